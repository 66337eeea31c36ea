/**
 * Generates the bad-input corpus: every kind of upload a public bucket
 * receives sooner or later, written from scratch with sharp, zlib and Buffer
 * (nothing hand-picked to pass), each with the outcome the pipeline owes the
 * user: generated pictures ('result') or error.json with a specific reason.
 *
 * Run on its own: `npx tsx scripts/make-corpus.ts [dir] [--model <id>]` writes
 * the files and corpus.json (the entries without their bytes) into dir
 * (default out/corpus) and prints the table; expectations follow --model, else
 * the synthesized stack's model, else Titan v2.
 */
import { Buffer } from 'node:buffer';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createDeflate } from 'node:zlib';
import sharp from 'sharp';
import type { FailureReason } from '../functions/core/errors';
import { adapterFor } from '../functions/core/models';
import { hostileProgressiveJpeg } from '../test/helpers/hostile-jpeg';

/** What an upload must end as: pictures, or error.json with this reason. */
export type ExpectedOutcome = 'result' | FailureReason;

export interface CorpusEntry {
  /** Short, unique, file-name safe. */
  readonly name: string;
  /** Object key to upload under (unique output prefix per entry). */
  readonly key: string;
  /** The generated file in the corpus folder. */
  readonly file: string;
  readonly size: number;
  /** S3 user metadata to upload with (names lower-case, values ASCII as S3 requires). */
  readonly metadata: Readonly<Record<string, string>>;
  readonly expected: ExpectedOutcome;
  /** Why this is the right outcome. */
  readonly why: string;
  /** Larger than a single local PutObject takes (11 MiB): upload with multipart. */
  readonly multipart: boolean;
  /** What a successful outcome must show in its manifest (source size after EXIF orientation, decoded prompt). */
  readonly check?: { readonly sourceSize?: { width: number; height: number }; readonly prompt?: string };
}

export interface CorpusOptions {
  /** The model the pipeline is configured for: prompt limits differ (Titan/Nova 512, Stability 10,000). @default amazon.titan-image-generator-v2:0 */
  readonly modelId?: string;
  /** URL the SVG's external entity and href point at; a test can serve it and count requests. @default http://127.0.0.1:9/x.png */
  readonly canaryUrl?: string;
}

/** prepare's MAX_INPUT_BYTES in the stack (terraform/stack.ts). */
export const MAX_INPUT_BYTES = 52_428_800;
const PROMPT = 'a pencil sketch of the scene';

// ---------------------------------------------------------------------------------------------
// Pictures
// ---------------------------------------------------------------------------------------------

/** A deterministic RGB scene with edges worth finding: a gradient, rectangles and a disc. */
const scene = (width: number, height: number, seed = 1): Buffer => {
  const data = Buffer.alloc(width * height * 3);
  const rects = [0, 1, 2].map((i) => ({
    x0: Math.floor(width * (0.1 + 0.25 * i)),
    y0: Math.floor(height * (0.15 + 0.1 * ((i + seed) % 3))),
    x1: Math.floor(width * (0.3 + 0.25 * i)),
    y1: Math.floor(height * (0.55 + 0.1 * ((i + seed) % 3))),
    colour: [(seed * 67 + i * 90) % 256, (seed * 131 + i * 40) % 256, (seed * 29 + i * 150) % 256],
  }));
  const cx = width * 0.65;
  const cy = height * 0.7;
  const r2 = (Math.min(width, height) * 0.2) ** 2;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      let c = [Math.round((255 * x) / width), Math.round((255 * y) / height), (seed * 53) % 256];
      for (const r of rects) if (x >= r.x0 && x < r.x1 && y >= r.y0 && y < r.y1) c = r.colour;
      if ((x - cx) ** 2 + (y - cy) ** 2 < r2) c = [250, 250, 250];
      data[o] = c[0]!;
      data[o + 1] = c[1]!;
      data[o + 2] = c[2]!;
    }
  }
  return data;
};

const picture = (width: number, height: number, seed = 1) => sharp(scene(width, height, seed), { raw: { width, height, channels: 3 } });

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (bytes: Buffer): number => {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const pngChunk = (type: string, data: Buffer): Buffer => {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
};

/**
 * A complete, valid PNG of width×height black pixels, 1-bit greyscale, written by hand:
 * the IDAT is a real deflate stream of every (all-zero) row, so the file is about
 * a thousandth of the 112 MB it inflates to, and 900 megapixels once decoded.
 */
export const decompressionBomb = async (width = 30_000, height = 30_000): Promise<Buffer> => {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  const rowBytes = 1 + Math.ceil(width / 8); // filter byte + packed pixels
  const rowsPerChunk = 1000;
  const zeros = Buffer.alloc(rowBytes * rowsPerChunk);
  const deflate = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => parts.push(chunk));
  const done = new Promise<void>((ok, fail) => {
    deflate.once('end', ok);
    deflate.once('error', fail);
  });
  for (let row = 0; row < height; row += rowsPerChunk) {
    const rows = Math.min(rowsPerChunk, height - row);
    if (!deflate.write(rows === rowsPerChunk ? zeros : zeros.subarray(0, rows * rowBytes))) {
      await new Promise((ok) => deflate.once('drain', ok));
    }
  }
  deflate.end();
  await done;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', Buffer.concat(parts)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
};

/** A minimal valid one-page PDF, cross-reference table included. */
export const minimalPdf = (): Buffer => {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>',
  ];
  const stream = '0 0 1 rg 20 20 160 160 re f';
  objects.push(`<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`);
  let text = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(text, 'latin1'));
    text += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(text, 'latin1');
  text += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) text += `${String(offset).padStart(10, '0')} 00000 n \n`;
  text += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(text, 'latin1');
};

const hostileSvg = (canaryUrl: string): Buffer =>
  Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd"><!ENTITY y SYSTEM "${canaryUrl}?entity">]>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="400" height="300">
  <rect width="400" height="300" fill="#88aacc"/>
  <text x="10" y="40">&x;&y;</text>
  <image href="${canaryUrl}?href" x="0" y="0" width="400" height="300"/>
  <image xlink:href="http://127.0.0.1:9/x.png" x="0" y="0" width="10" height="10"/>
</svg>
`,
  );

// ---------------------------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------------------------

interface Spec {
  readonly name: string;
  readonly key: string;
  readonly ext: string;
  readonly bytes: () => Promise<Buffer> | Buffer;
  /** Writes the file itself instead (too large to build in memory). */
  readonly write?: (path: string) => Promise<void>;
  readonly metadata?: Record<string, string>;
  readonly expected: ExpectedOutcome;
  readonly why: string;
  readonly check?: CorpusEntry['check'];
}

/** Writes a file of `size` bytes starting with `head`, the rest zeros, without holding it in memory. */
const writeSparse = async (path: string, head: Buffer, size: number): Promise<void> => {
  const handle = await open(path, 'w');
  try {
    await handle.write(head, 0, head.length, 0);
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
};

const specs = async (options: CorpusOptions): Promise<Spec[]> => {
  const limits = adapterFor(options.modelId ?? 'amazon.titan-image-generator-v2:0').limits;
  const canaryUrl = options.canaryUrl ?? 'http://127.0.0.1:9/x.png';
  const photoJpeg = await picture(480, 320, 1).jpeg({ quality: 85 }).toBuffer();
  const photoPng = await picture(240, 160, 2).png().toBuffer();
  const longPrompt = Array.from({ length: 200 }, (_, i) => `sketch ${String(i).padStart(2, '0')}`).join(' ').slice(0, 2000);
  const unicodePrompt = 'ein Tiger als Bleistiftskizze – 虎, à la Dürer';
  /** An ASCII key of exactly `bytes` bytes. */
  const longKey = (stem: string, bytes: number): string => stem + 'x'.repeat(bytes - stem.length - '.png'.length) + '.png';

  const specsList: Spec[] = [
    // Not pictures at all: refused on the first bytes, before any decoder runs.
    { name: 'zero-bytes', key: 'bad/zero-bytes.jpg', ext: 'jpg', bytes: () => Buffer.alloc(0), expected: 'UNREADABLE_IMAGE', why: 'an empty object has nothing to decode' },
    {
      name: 'truncated-jpeg',
      key: 'bad/truncated.jpg',
      ext: 'jpg',
      bytes: () => photoJpeg.subarray(0, Math.floor(photoJpeg.length / 2)),
      expected: 'UNREADABLE_IMAGE',
      why: 'a JPEG cut in half: the signature passes, the decoder (failOn error) must stop at the truncation',
    },
    { name: 'text-as-jpg', key: 'bad/notes.jpg', ext: 'jpg', bytes: () => Buffer.from('these are my notes, not a picture\n'.repeat(20)), expected: 'UNSUPPORTED_FORMAT', why: 'text renamed .jpg: the extension is not the format' },
    { name: 'html', key: 'bad/page.png', ext: 'png', bytes: () => Buffer.from('<!DOCTYPE html>\n<html><body><img src="x.png"></body></html>\n'), expected: 'UNSUPPORTED_FORMAT', why: 'an HTML page (an error page saved as an image)' },
    {
      name: 'svg-xxe-href',
      key: 'bad/vector.svg',
      ext: 'svg',
      bytes: () => hostileSvg(canaryUrl),
      expected: 'UNSUPPORTED_FORMAT',
      why: 'SVG with an external entity and external hrefs: refused before librsvg could fetch anything',
    },
    { name: 'pdf', key: 'bad/document.pdf', ext: 'pdf', bytes: minimalPdf, expected: 'UNSUPPORTED_FORMAT', why: 'a valid one-page PDF' },
    {
      name: 'animated-gif',
      key: 'bad/animation.gif',
      ext: 'gif',
      bytes: () => {
        const frames = Buffer.concat([scene(160, 120, 3), scene(160, 120, 4)]);
        return sharp(frames, { raw: { width: 160, height: 240, channels: 3, pageHeight: 120 } }).gif({ loop: 0, delay: [200, 200] }).toBuffer();
      },
      expected: 'UNSUPPORTED_FORMAT',
      why: 'GIF (two frames) is not on the allowlist',
    },
    { name: 'tiff', key: 'bad/scan.tiff', ext: 'tiff', bytes: () => picture(200, 150, 5).tiff().toBuffer(), expected: 'UNSUPPORTED_FORMAT', why: 'TIFF is not on the allowlist' },
    ...(sharp.format.heif.output.buffer
      ? [
          {
            name: 'avif',
            key: 'bad/phone.avif',
            ext: 'avif',
            bytes: () => picture(200, 150, 6).avif({ quality: 50 }).toBuffer(),
            expected: 'UNSUPPORTED_FORMAT',
            why: 'AVIF (HEIF container) is not on the allowlist',
          } satisfies Spec,
        ]
      : []),
    {
      name: 'decompression-bomb',
      key: 'bad/bomb.png',
      ext: 'png',
      bytes: () => decompressionBomb(),
      expected: 'IMAGE_DIMENSIONS',
      why: 'a 30000×30000 PNG of ~110 KB: 900 megapixels, refused by limitInputPixels from the header',
    },
    {
      name: 'bomb-under-limit',
      key: 'edge/bomb-under-limit.png',
      ext: 'png',
      bytes: () => decompressionBomb(7745, 7745),
      expected: 'result',
      why: 'a 7 KB PNG of 7745×7745 (59.98 megapixels), just under the limit: decoded within memory and time',
    },
    {
      name: 'many-scans-jpeg',
      key: 'bad/many-scans.jpg',
      ext: 'jpg',
      bytes: () => hostileProgressiveJpeg({ width: 7680, height: 7680, components: 4 }),
      expected: 'DECODER_LIMIT',
      why: 'a valid 7680×7680 CMYK progressive JPEG of ~850 KB with 3529 scans (minutes of libjpeg): refused from its marker structure, over MAX_JPEG_SCANS',
    },
    {
      name: 'over-50mb',
      key: 'bad/huge.jpg',
      ext: 'jpg',
      bytes: () => Buffer.alloc(0),
      write: async (path) => writeSparse(path, await picture(64, 64).jpeg().toBuffer(), MAX_INPUT_BYTES + 1),
      expected: 'INPUT_TOO_LARGE',
      why: `MAX_INPUT_BYTES + 1 bytes behind a JPEG header: refused from Content-Length, before the body is downloaded`,
    },

    // Pictures at the edges of what the decoders and models take.
    { name: 'png-16-bit', key: 'edge/deep.png', ext: 'png', bytes: () => picture(240, 160, 7).toColourspace('rgb16').png().toBuffer(), expected: 'result', why: '16 bits per channel: normalised to 8-bit sRGB' },
    { name: 'cmyk-jpeg', key: 'edge/print.jpg', ext: 'jpg', bytes: () => picture(240, 160, 8).toColourspace('cmyk').jpeg().toBuffer(), expected: 'result', why: 'a CMYK JPEG (print workflow): converted to sRGB' },
    { name: 'grey-jpeg', key: 'edge/grey.jpg', ext: 'jpg', bytes: () => picture(240, 160, 9).toColourspace('b-w').jpeg().toBuffer(), expected: 'result', why: 'one channel: widened to sRGB' },
    {
      name: 'png-alpha',
      key: 'edge/cutout.png',
      ext: 'png',
      bytes: () => picture(240, 160, 10).ensureAlpha(0.4).png().toBuffer(),
      expected: 'result',
      why: 'transparency: flattened onto white',
    },
    {
      name: 'exif-rotated',
      key: 'edge/portrait.jpg',
      ext: 'jpg',
      bytes: () => picture(300, 200, 11).jpeg().withMetadata({ orientation: 6 }).toBuffer(),
      expected: 'result',
      why: 'stored 300×200 with EXIF orientation 6: a 200×300 portrait once oriented',
      check: { sourceSize: { width: 200, height: 300 } },
    },
    {
      name: 'animated-webp',
      key: 'edge/animation.webp',
      ext: 'webp',
      bytes: () => {
        const frames = Buffer.concat([scene(160, 120, 14), scene(160, 120, 15)]);
        return sharp(frames, { raw: { width: 160, height: 240, channels: 3, pageHeight: 120 } }).webp({ loop: 0, delay: [200, 200] }).toBuffer();
      },
      expected: 'result',
      why: 'an animated WebP: an allowed format; its first frame is used',
      check: { sourceSize: { width: 160, height: 120 } },
    },
    { name: 'one-pixel', key: 'edge/dot.png', ext: 'png', bytes: () => picture(1, 1, 12).png().toBuffer(), expected: 'IMAGE_DIMENSIONS', why: '1×1: below the 64 px minimum side' },
    { name: 'sliver-20000x10', key: 'edge/sliver.png', ext: 'png', bytes: () => picture(20_000, 10, 13).png().toBuffer(), expected: 'IMAGE_DIMENSIONS', why: '20000×10: below the minimum side and beyond 8:1' },

    // Keys S3 encodes in events.
    { name: 'key-spaces', key: 'keys/my holiday photo.jpg', ext: 'jpg', bytes: () => photoJpeg, expected: 'result', why: 'spaces arrive as + in the event' },
    { name: 'key-plus', key: 'keys/a+b=c.png', ext: 'png', bytes: () => photoPng, expected: 'result', why: 'a literal + arrives as %2B' },
    { name: 'key-percent', key: 'keys/100% and %25 literal.png', ext: 'png', bytes: () => photoPng, expected: 'result', why: 'a literal % and a literal "%25" must not be decoded twice' },
    { name: 'key-unicode', key: 'keys/tigre ü 虎 🐅.jpg', ext: 'jpg', bytes: () => photoJpeg, expected: 'result', why: 'multi-byte UTF-8, an astral-plane emoji included' },
    { name: 'key-very-long', key: longKey('keys/long-', 1000), ext: 'png', bytes: () => photoPng, expected: 'result', why: 'a 1000-byte key: its outputs (≤1010 bytes) still fit S3\'s 1024' },
    {
      name: 'key-max-length',
      key: longKey('keys/longest-', 1024),
      ext: 'png',
      bytes: () => photoPng,
      expected: 'result',
      why: 'a 1024-byte key, the longest S3 takes: "<key without .png>/manifest.json" would be 1034 bytes, so outputs need a shortened prefix',
    },

    // Metadata out of range: refused before any decoding, named in the message.
    { name: 'meta-count-9', key: 'meta/count.jpg', ext: 'jpg', bytes: () => photoJpeg, metadata: { count: '9' }, expected: 'INVALID_PARAMETER', why: `count 9 > ${limits.countMax}` },
    { name: 'meta-strength-2', key: 'meta/strength.jpg', ext: 'jpg', bytes: () => photoJpeg, metadata: { 'control-strength': '2' }, expected: 'INVALID_PARAMETER', why: 'control-strength must be within 0..1' },
    { name: 'meta-seed-negative', key: 'meta/seed.jpg', ext: 'jpg', bytes: () => photoJpeg, metadata: { seed: '-1' }, expected: 'INVALID_PARAMETER', why: 'seed must be a non-negative integer' },
    { name: 'meta-empty-prompt', key: 'meta/empty-prompt.jpg', ext: 'jpg', bytes: () => photoJpeg, metadata: { prompt: '   ' }, expected: 'INVALID_PARAMETER', why: 'a blank prompt (and the stack has no default prompt)' },
    {
      name: 'prompt-2000-chars',
      key: 'meta/long-prompt.jpg',
      ext: 'jpg',
      bytes: () => photoJpeg,
      metadata: { prompt: longPrompt },
      expected: longPrompt.length > limits.promptMaxLength ? 'INVALID_PARAMETER' : 'result',
      why: `a ${longPrompt.length}-character prompt; this model takes at most ${limits.promptMaxLength}`,
    },
    {
      name: 'prompt-non-ascii',
      key: 'meta/unicode-prompt.jpg',
      ext: 'jpg',
      bytes: () => photoJpeg,
      metadata: { prompt: `=?UTF-8?B?${Buffer.from(unicodePrompt).toString('base64')}?=` },
      expected: 'result',
      why: 'a non-ASCII prompt, RFC 2047 encoded as S3 metadata must be',
      check: { prompt: unicodePrompt },
    },
  ];
  return specsList.map((spec) => ({ ...spec, metadata: { prompt: PROMPT, ...spec.metadata } }));
};

/** Generates every corpus file into `dir` (created; a previous corpus there is replaced) and returns the entries. */
export const makeCorpus = async (dir: string, options: CorpusOptions = {}): Promise<CorpusEntry[]> => {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const entries: CorpusEntry[] = [];
  for (const spec of await specs(options)) {
    const file = join(dir, `${spec.name}.${spec.ext}`);
    if (spec.write) await spec.write(file);
    else await writeFile(file, await spec.bytes());
    const { size } = await stat(file);
    entries.push({
      name: spec.name,
      key: spec.key,
      file,
      size,
      metadata: spec.metadata ?? {},
      expected: spec.expected,
      why: spec.why,
      multipart: size > 11 * 1024 * 1024,
      ...(spec.check ? { check: spec.check } : {}),
    });
  }
  await writeFile(join(dir, 'corpus.json'), `${JSON.stringify(entries, null, 2)}\n`);
  return entries;
};

/** The bytes of an entry (the >50 MB one included: read it only to upload it). */
export const corpusBytes = (entry: CorpusEntry): Promise<Buffer> => readFile(entry.file);
/** A stream of the entry's bytes, for multipart uploads. */
export const corpusStream = (entry: CorpusEntry) => createReadStream(entry.file);

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;

if (isMain) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { model: { type: 'string' } } });
  const dir = resolve(positionals[0] ?? join('out', 'corpus'));
  // The model decides the prompt limit: --model, else the synthesized stack's, else Titan's.
  const stack = join('cdktf.out', 'stacks', 'image-conditioning-pipeline', 'cdk.tf.json');
  const modelId = values.model ?? (existsSync(stack) ? JSON.parse(await readFile(stack, 'utf8')).variable?.model_id?.default : undefined) ?? 'amazon.titan-image-generator-v2:0';
  const entries = await makeCorpus(dir, { modelId });
  console.log(`expected outcomes for ${modelId}`);
  for (const entry of entries) {
    console.log(`${entry.name.padEnd(20)} ${String(entry.size).padStart(10)} B  ${entry.expected.padEnd(18)} ${entry.key.length > 60 ? `${entry.key.slice(0, 57)}...` : entry.key}`);
  }
  console.log(`${entries.length} inputs in ${dir} (corpus.json lists them)`);
}
