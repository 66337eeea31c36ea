/**
 * `npm start -- <folder of 12 photos, one of them not an image>` as a user runs it, then its
 * out/index.html in a real browser: Debian's chromium driven by playwright-core, headless.
 * The page must render, every picture on it must load, the failure must show its reason and
 * message, the stand-in must be marked, and a prompt with markup must show as text.
 *
 * CI installs chromium (.ci/run); on a machine without /usr/bin/chromium the browser part is
 * skipped, unless CI is set, where it fails.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import sharp from 'sharp';
import { ROOT } from '../../scripts/build-functions';
import { ensureBuilt } from '../helpers/build';
import { PHOTOS_DIR } from '../helpers/photos';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

const PROMPT = `<script>document.title='owned'</script> un tigre, dessiné à la main — "虎" & 'co'`;

/** 12 files: the four fixture photos, seven variants made with sharp (JPEG, WebP, in a subfolder), and a text file. */
const makeBatch = async (dir: string): Promise<void> => {
  await mkdir(join(dir, 'more'), { recursive: true });
  const sources = ['astronaut.png', 'chelsea.png', 'coffee.png', 'rocket.jpg'];
  for (const name of sources) await copyFile(join(PHOTOS_DIR, name), join(dir, name));
  let n = 0;
  for (const name of sources) {
    await sharp(join(PHOTOS_DIR, name)).resize({ width: 400 }).flop().jpeg({ quality: 80 }).toFile(join(dir, 'more', `${++n}-flopped.jpg`));
    if (n < 7) await sharp(join(PHOTOS_DIR, name)).resize({ width: 320 }).greyscale().webp().toFile(join(dir, 'more', `${++n}-grey.webp`));
  }
  await writeFile(join(dir, 'notes.txt'), 'not a photo\n');
  await writeFile(join(dir, '.DS_Store'), 'hidden: skipped');
};

describe('npm start with a folder of 12 photos, and its gallery in a browser', function () {
  this.timeout(240_000);
  let work: string;
  let out: string;
  let stdout = '';
  let exitCode = 0;
  let seconds = 0;

  before(async () => {
    await ensureBuilt();
    work = await mkdtemp(join(tmpdir(), 'icp-gallery-'));
    out = join(work, 'out');
    await makeBatch(join(work, 'photos'));
    const started = Date.now();
    const result = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'local', 'run.ts'), join(work, 'photos'), '--out', out, '--prompt', PROMPT], {
      cwd: ROOT,
      timeout: 200_000,
    }).then(
      (r) => ({ stdout: r.stdout, code: 0 }),
      (e: { stdout: string; code: number }) => ({ stdout: e.stdout, code: e.code }),
    );
    seconds = (Date.now() - started) / 1000;
    stdout = result.stdout;
    exitCode = result.code;
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('processes every file with progress lines, ends with the summary and exits 1 for the failed one', () => {
    expect(exitCode, stdout).to.equal(1);
    expect(stdout).to.include('uploading 12 file(s)');
    expect(stdout).to.match(/^12\/12 done · uploaded 12 · prepared 12 · generated 11 · failed 1 · .* · in /m);
    expect(stdout).to.match(/^✗ photos\/notes\.txt: UNSUPPORTED_FORMAT: /m);
    expect(stdout.match(/^✓ photos\//gm)).to.have.length(11);
    expect(stdout).to.match(/^ {2}succeeded +11$/m);
    expect(stdout).to.match(/^ {2}failed: UNSUPPORTED_FORMAT +1$/m);
    expect(stdout).to.match(/^ {2}model calls +11$/m);
    expect(stdout).to.match(/^ {2}estimated cost +\$0\.77 \(11 answered by a stand-in, not billed\)$/m);
    expect(stdout).to.match(/^gallery: +\S*index\.html$/m);
    console.log(`      (12 photos through the local pipeline in ${seconds.toFixed(1)} s)`);
  });

  it('keeps the prompt intact through metadata and into every manifest', async () => {
    const manifest = JSON.parse(await readFile(join(out, 'photos', 'more', '1-flopped.jpg', 'manifest.json'), 'utf8'));
    expect(manifest.prompt).to.equal(PROMPT);
    expect(manifest.standIn).to.equal(true);
  });

  describe('out/index.html in chromium', () => {
    let browser: Browser | undefined;
    before(async function () {
      if (!existsSync(CHROMIUM)) {
        if (process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
        this.skip();
      }
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    });
    after(() => browser?.close());

    it('renders offline, loads every picture, shows the failure reason and the stand-in mark, and shows the prompt as text', async () => {
      const page = await browser!.newPage({ viewport: { width: 1200, height: 900 } });
      const requests: string[] = [];
      page.on('request', (request) => requests.push(request.url()));
      await page.goto(pathToFileURL(join(out, 'index.html')).href);
      await page.waitForLoadState('load');

      expect(await page.title()).to.equal('Image conditioning pipeline: results');
      expect(await page.locator('script').count()).to.equal(0);
      // Run in the page (this project's TypeScript has no DOM types).
      const images = (await page.evaluate("[...document.images].map((img) => ({ src: img.getAttribute('src'), complete: img.complete, width: img.naturalWidth }))")) as {
        src: string;
        complete: boolean;
        width: number;
      }[];
      // Per success: the contact sheet, the edge mask and the result.
      expect(images).to.have.length(33);
      for (const image of images) expect(image, JSON.stringify(image)).to.include({ complete: true }).and.to.satisfy((i: { width: number }) => i.width > 0);
      expect(requests.every((url) => url.startsWith('file://')), requests.join('\n')).to.equal(true);

      const failure = page.locator('article.failed');
      expect(await failure.count()).to.equal(1);
      expect(await failure.locator('h2').innerText()).to.equal('photos/notes.txt');
      expect(await failure.locator('.reason').innerText()).to.equal('UNSUPPORTED_FORMAT');
      expect(await failure.locator('.message').innerText()).to.match(/^Expected one of: jpeg, png, webp for s3:\/\/\S+\/photos\/notes\.txt but received data of no known image format$/);

      const marks = page.locator('.badge.standin');
      expect(await marks.count()).to.equal(11);
      expect(await marks.first().isVisible()).to.equal(true);
      expect(await marks.first().innerText()).to.match(/stand-in: no model was called/i);
      expect(await page.locator('article.succeeded .prompt').first().innerText()).to.equal(PROMPT);

      const shot = join(await mkdtemp(join(tmpdir(), 'icp-gallery-shot-')), 'gallery.png');
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`      (screenshot: ${shot})`);
      await page.close();
    });
  });
});
