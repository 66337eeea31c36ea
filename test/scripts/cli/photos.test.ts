import { expect } from 'chai';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPhotos } from '../../../scripts/cli/photos';
import { assignKeys, keyOf, normalizePrefix } from '../../../scripts/cli/upload-key';

describe('scripts/cli/photos: finding the files a command line names', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'icp-photos-'));
    await mkdir(join(dir, 'photos', 'b-sub', 'deeper'), { recursive: true });
    await mkdir(join(dir, 'photos', '.git'), { recursive: true });
    for (const name of ['photos/z.jpg', 'photos/a.png', 'photos/B.jpg', 'photos/b-sub/c.webp', 'photos/b-sub/deeper/d.jpg', 'photos/.DS_Store', 'photos/.git/HEAD', 'single.jpg', '.hidden.jpg']) {
      await writeFile(join(dir, name), name);
    }
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('walks folders recursively in a stable code-point order, skipping hidden entries, after the files named before them', async () => {
    const { photos, problems } = await findPhotos(['single.jpg', 'photos'], dir);
    expect(problems).to.deep.equal([]);
    expect(photos.map((p) => p.path.slice(dir.length + 1))).to.deep.equal([
      'single.jpg',
      'photos/B.jpg',
      'photos/a.png',
      'photos/b-sub/c.webp',
      'photos/b-sub/deeper/d.jpg',
      'photos/z.jpg',
    ]);
    expect(photos[0]!.inFolder).to.equal(false);
    expect(photos[1]!.inFolder).to.equal(true);
  });

  it('keeps a hidden file named explicitly, takes a file named twice once, and reports what is not a file', async () => {
    await symlink(join(dir, 'nowhere'), join(dir, 'photos', 'broken.jpg'));
    const { photos, problems } = await findPhotos(['.hidden.jpg', 'single.jpg', './single.jpg', 'missing.jpg', 'photos/b-sub', 'photos'], dir);
    expect(photos.map((p) => p.path.slice(dir.length + 1))).to.deep.equal([
      '.hidden.jpg',
      'single.jpg',
      'photos/b-sub/c.webp',
      'photos/b-sub/deeper/d.jpg',
      'photos/B.jpg',
      'photos/a.png',
      'photos/z.jpg',
    ]);
    expect(problems).to.deep.equal([
      { path: 'missing.jpg', reason: 'no such file or folder' },
      { path: join(dir, 'photos', 'broken.jpg'), reason: 'a broken symbolic link' },
    ]);
  });

  it('ends on a symbolic-link loop', async () => {
    await symlink(join(dir, 'photos'), join(dir, 'photos', 'b-sub', 'loop'));
    const { photos } = await findPhotos(['photos'], dir);
    expect(photos).to.have.length(5);
  });
});

describe('scripts/cli/upload-key: the key of each photo', () => {
  const root = '/home/me/photos';
  it('is the file name for a file named directly, the folder name and relative path for a file found in a folder', () => {
    expect(keyOf({ path: '/x/y/tiger.jpg', root: '/x/y/tiger.jpg', inFolder: false })).to.equal('tiger.jpg');
    expect(keyOf({ path: `${root}/cats/tom.jpg`, root, inFolder: true })).to.equal('photos/cats/tom.jpg');
    expect(keyOf({ path: `${root}/cats/tom.jpg`, root, inFolder: true }, '/batch-7/')).to.equal('batch-7/photos/cats/tom.jpg');
    expect(keyOf({ path: '/a.jpg', root: '/', inFolder: true })).to.equal('a.jpg');
  });

  it('is Unicode NFC, as typed, whatever form the disk stores', () => {
    const decomposed = 'cafe\u0301.jpg';
    expect(keyOf({ path: `/x/${decomposed}`, root: `/x/${decomposed}`, inFolder: false })).to.equal('caf\u00e9.jpg');
  });

  it('normalizes a prefix and refuses one with empty, dot or dot-dot segments', () => {
    expect(normalizePrefix('')).to.equal('');
    expect(normalizePrefix('a/b')).to.equal('a/b/');
    expect(normalizePrefix('/a/b/')).to.equal('a/b/');
    expect(() => normalizePrefix('a//b')).to.throw(/--prefix/);
    expect(() => normalizePrefix('../a')).to.throw(/--prefix/);
  });

  it('refuses two photos with one key, a control character and a key over 1,024 bytes, naming the file', () => {
    const { keyed, problems } = assignKeys([
      { path: '/a/x.jpg', root: '/a/x.jpg', inFolder: false },
      { path: '/b/x.jpg', root: '/b/x.jpg', inFolder: false },
      { path: '/b/bad\nname.jpg', root: '/b/bad\nname.jpg', inFolder: false },
      { path: `/b/${'é'.repeat(600)}.jpg`, root: `/b/${'é'.repeat(600)}.jpg`, inFolder: false },
    ]);
    expect(keyed.map((k) => k.key)).to.deep.equal(['x.jpg']);
    expect(problems.map((p) => p.path)).to.deep.equal(['/b/x.jpg', '/b/bad\nname.jpg', `/b/${'é'.repeat(600)}.jpg`]);
    expect(problems[0]!.reason).to.equal('it would be uploaded as x.jpg, like /a/x.jpg; upload one of them separately or with --prefix');
    expect(problems[1]!.reason).to.match(/control character/);
    expect(problems[2]!.reason).to.match(/1204 bytes, more than S3's 1024/);
  });
});
