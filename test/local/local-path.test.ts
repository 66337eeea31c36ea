import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { outputFolder } from '../../functions/core/naming';
import { assertInside, keyOfLocalPath, localPathInside, localRelativePath, localSegment, MAX_COMPONENT_BYTES } from '../../scripts/local/local-path';
import { downloadFolder } from '../../scripts/local/pipeline';
import { startLocalS3, type LocalS3 } from '../../scripts/local/s3-server';

const HOSTILE_KEYS = [
  '../../etc/passwd',
  'a/../../b',
  '/abs',
  '/',
  '//',
  '..',
  '.',
  '...',
  '',
  'a//b',
  'a/./b',
  'a/../b',
  'dir/',
  'dir//',
  '../',
  './x',
  '.local',
  '.local/logs/prepare.log',
  'nul\0byte',
  'ctl\x01\x1f\x7f\n\r\t',
  'win<>:"\\|?*.jpg',
  'C:\\Windows\\system32',
  'CON',
  'con.txt',
  'LPT1',
  'COM¹.log',
  'NUL .txt',
  'trailing.',
  'trailing ',
  'x/ . /y',
  '%',
  '%2E%2E',
  '%/x',
  '%~0123',
  '\uD800lone',
  'x'.repeat(300),
  `${'x'.repeat(300)}y`,
  'é'.repeat(200),
  '📷'.repeat(100),
  `${'.'.repeat(300)}/z`,
  `a/${'%'.repeat(300)}`,
];

/** Every component of a relative path is a safe, portable file name. */
const expectSafe = (rel: string, key: string): void => {
  expect(path.posix.isAbsolute(rel), key).to.equal(false);
  for (const component of rel.split('/')) {
    expect(component, key).to.not.be.oneOf(['', '.', '..']);
    expect(component, key).to.not.match(/^\./);
    // eslint-disable-next-line no-control-regex
    expect(component, key).to.not.match(/[\x00-\x1f\x7f<>:"\\|?*]/);
    expect(component, key).to.not.match(/[. ]$/);
    expect(component, key).to.not.match(/^(CON|PRN|AUX|NUL|COM\d|LPT\d)( *\.|$)/i);
    expect(component, key).to.not.match(/[\uD800-\uDFFF]/u); // lone surrogates only
    expect(Buffer.byteLength(component), key).to.be.at.most(MAX_COMPONENT_BYTES);
  }
};

describe('local paths of S3 keys', () => {
  it('maps ordinary keys to the same path', () => {
    for (const key of ['photos/tiger.jpg/1.png', 'a b/c+d/é (1).jpg/manifest.json', 'x.tar.gz', 'a..b', '~~/x', '日本/写真.png']) {
      expect(localRelativePath(key)).to.equal(key);
    }
  });

  it('escapes hostile keys into safe, portable components', () => {
    const cases: Array<[string, string]> = [
      ['../../etc/passwd', '%2E%2E/%2E%2E/etc/passwd'],
      ['a/../../b', 'a/%2E%2E/%2E%2E/b'],
      ['/abs', '%/abs'],
      ['..', '%2E%2E'],
      ['.', '%2E'],
      ['', '%'],
      ['a//b', 'a/%/b'],
      ['a/./b', 'a/%2E/b'],
      ['dir/', 'dir/%'],
      ['.local', '%2Elocal'],
      ['nul\0byte', 'nul%00byte'],
      ['a:b?c*', 'a%3Ab%3Fc%2A'],
      ['C:\\Windows', 'C%3A%5CWindows'],
      ['CON', '%43ON'],
      ['con.txt', '%63on.txt'],
      ['NUL .txt', '%4EUL .txt'],
      ['CONSOLE', 'CONSOLE'],
      ['trailing. ', 'trailing%2E%20'],
      ['100%', '100%25'],
      ['\uD800x', '%uD800x'],
    ];
    for (const [key, rel] of cases) expect(localRelativePath(key), JSON.stringify(key)).to.equal(rel);
    for (const key of HOSTILE_KEYS) expectSafe(localRelativePath(key), JSON.stringify(key));
  });

  it('is reversible (hashed components aside) and injective', () => {
    const keys = new Set(HOSTILE_KEYS);
    // Each key next to the key its escaped form would be if taken literally, and other near misses.
    for (const key of HOSTILE_KEYS) {
      keys.add(localRelativePath(key));
      keys.add(`${key}/`);
      keys.add(`${key}.`);
      keys.add(key.toUpperCase());
    }
    const paths = new Map<string, string>();
    for (const key of keys) {
      const rel = localRelativePath(key);
      expect(paths.get(rel), `${JSON.stringify(key)} and ${JSON.stringify(paths.get(rel))} → ${rel}`).to.equal(undefined);
      paths.set(rel, key);
      if (!rel.includes('%~')) expect(keyOfLocalPath(rel), JSON.stringify(key)).to.equal(key);
    }
  });

  it('shortens components longer than 255 bytes with a hash of the whole segment, without splitting characters', () => {
    const long = 'x'.repeat(300);
    const name = localSegment(long);
    expect(Buffer.byteLength(name)).to.be.at.most(MAX_COMPONENT_BYTES);
    expect(name).to.match(/^x+%~[0-9a-f]{32}$/);
    expect(localSegment(`${long}y`)).to.not.equal(name); // differ only past the cut
    expect(localSegment('x'.repeat(255))).to.equal('x'.repeat(255)); // fits: kept as is
    expect(localSegment('x'.repeat(256))).to.include('%~');
    for (const segment of ['é'.repeat(200), '📷'.repeat(100), '%'.repeat(300), `${'é'.repeat(127)}x`]) {
      const shortened = localSegment(segment);
      expect(Buffer.byteLength(shortened)).to.be.at.most(MAX_COMPONENT_BYTES);
      expect(shortened).to.not.include('\uFFFD');
      // Escapes are kept whole: every % starts %XX or the %~ mark.
      expect(shortened.replace(/%[0-9A-F]{2}/g, '').replace(/%~[0-9a-f]{32}$/, '')).to.not.include('%');
    }
    expect(keyOfLocalPath(name)).to.equal(undefined);
  });

  it('assertInside accepts only paths strictly inside the directory', () => {
    const dir = path.resolve('/tmp/out');
    expect(assertInside(dir, 'a/b')).to.equal(path.join(dir, 'a', 'b'));
    expect(assertInside(dir, '..b')).to.equal(path.join(dir, '..b'));
    expect(assertInside(dir, 'a/../b')).to.equal(path.join(dir, 'b'));
    for (const bad of ['', '.', '..', '../out2/x', 'a/../..', '/etc/passwd', 'a/../../b', dir]) {
      expect(() => assertInside(dir, bad), bad).to.throw(/not inside/);
    }
  });

  it('localPathInside resolves every hostile key strictly inside the directory', () => {
    const dir = path.resolve('/tmp/out');
    for (const key of HOSTILE_KEYS) {
      const resolved = localPathInside(dir, key);
      expect(resolved.startsWith(dir + path.sep), JSON.stringify(key)).to.equal(true);
    }
  });
});

describe('the local runner download (downloadFolder)', function () {
  this.timeout(30_000);
  let s3: LocalS3;
  let client: S3Client;
  let base: string;
  let dir: string;

  before(async () => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    s3 = await startLocalS3();
    s3.createBucket('output');
    client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  });
  after(async () => {
    client?.destroy();
    await s3?.close();
  });
  beforeEach(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'local-path-test-'));
    dir = path.join(base, 'out');
    await mkdir(dir);
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  /** Every file under `root`, relative, sorted. */
  const tree = async (root: string): Promise<string[]> =>
    (await readdir(root, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
      .sort();

  it('keeps the outcome of a key with ../ inside the directory: nothing beside it changes', async () => {
    const sentinel = path.join(base, 'sentinel.txt');
    await writeFile(sentinel, 'keep me');
    await mkdir(path.join(base, 'etc'));
    await writeFile(path.join(base, 'etc', 'passwd'), 'root');
    const hostile = ['../sentinel.txt', '../../etc/passwd', '..', '../', '/abs.jpg', 'a/../../b.jpg', '.local', '.'];
    for (const key of hostile) {
      const folder = outputFolder(key);
      await client.send(new PutObjectCommand({ Bucket: 'output', Key: `${folder}manifest.json`, Body: JSON.stringify({ key }) }));
      await client.send(new PutObjectCommand({ Bucket: 'output', Key: `${folder}1.png`, Body: 'png' }));
      const written = await downloadFolder(client, 'output', folder, dir);
      expect(written, key).to.have.length(2);
      for (const file of written) expect(file.startsWith(dir + path.sep), `${key}: ${file}`).to.equal(true);
      const manifest = written.find((file) => file.endsWith(`${path.sep}manifest.json`))!;
      expect(JSON.parse(await readFile(manifest, 'utf8'))).to.deep.equal({ key });
    }
    expect(await readFile(sentinel, 'utf8')).to.equal('keep me');
    expect(await readFile(path.join(base, 'etc', 'passwd'), 'utf8')).to.equal('root');
    expect((await readdir(base)).sort()).to.deep.equal(['etc', 'out', 'sentinel.txt']);
    expect(await tree(dir)).to.include(path.join('%2E%2E', '%2E%2E', 'etc', 'passwd', 'manifest.json'));
  });

  it('deletes a previous copy’s files in that folder only: not subfolders (other uploads), not the directory', async () => {
    await client.send(new PutObjectCommand({ Bucket: 'output', Key: 'p/a.jpg/manifest.json', Body: '{}' }));
    await client.send(new PutObjectCommand({ Bucket: 'output', Key: 'p/a.jpg/b.jpg/manifest.json', Body: '{"nested":true}' }));
    await mkdir(path.join(dir, 'p', 'a.jpg', 'b.jpg'), { recursive: true });
    await writeFile(path.join(dir, 'p', 'a.jpg', 'error.json'), 'stale');
    await writeFile(path.join(dir, 'p', 'a.jpg', 'b.jpg', 'manifest.json'), 'other upload');
    await writeFile(path.join(dir, 'p', 'keep.txt'), 'beside');
    const written = await downloadFolder(client, 'output', 'p/a.jpg/', dir);
    expect(written).to.deep.equal([path.join(dir, 'p', 'a.jpg', 'manifest.json')]);
    expect(await tree(dir)).to.deep.equal([path.join('p', 'a.jpg', 'b.jpg', 'manifest.json'), path.join('p', 'a.jpg', 'manifest.json'), path.join('p', 'keep.txt')]);
    expect(await readFile(path.join(dir, 'p', 'a.jpg', 'b.jpg', 'manifest.json'), 'utf8')).to.equal('other upload');
  });

  it('never takes the folder of an empty key segment for the directory itself', async () => {
    await writeFile(path.join(dir, 'error.json'), 'not this folder’s');
    await client.send(new PutObjectCommand({ Bucket: 'output', Key: '/manifest.json', Body: '{}' }));
    const written = await downloadFolder(client, 'output', '/', dir);
    expect(written).to.deep.equal([path.join(dir, '%', 'manifest.json')]);
    expect(await tree(dir)).to.deep.equal([path.join('%', 'manifest.json'), 'error.json']);
  });
});
