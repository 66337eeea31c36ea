import { PipelineError } from './errors';

/**
 * Formats prepare decodes. JPEG, PNG and WebP cover what cameras and phones
 * upload; their libvips loaders are the most exercised. Everything else
 * (SVG and PDF can fetch external resources or run large interpreters; TIFF,
 * GIF, HEIF, JPEG 2000 and RAW bring more parser surface for little gain) is
 * refused before any decoder sees it.
 */
export const ALLOWED_FORMATS = ['jpeg', 'png', 'webp'] as const;
export type AllowedFormat = (typeof ALLOWED_FORMATS)[number];

const startsWith = (bytes: Uint8Array, signature: readonly number[], offset = 0): boolean =>
  signature.every((byte, i) => bytes[offset + i] === byte);
const ascii = (bytes: Uint8Array, from: number, to: number): string => Buffer.from(bytes.subarray(from, to)).toString('latin1');

/** Names the format from the first bytes; `undefined` when nothing known matches. */
export const sniffFormat = (bytes: Uint8Array): string | undefined => {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return 'webp';
  if (ascii(bytes, 0, 4) === 'GIF8') return 'gif';
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (ascii(bytes, 0, 5) === '%PDF-') return 'pdf';
  if (ascii(bytes, 4, 8) === 'ftyp') {
    const brand = ascii(bytes, 8, 12);
    return brand.startsWith('avi') ? 'avif' : /^(heic|heix|hevc|mif1|msf1)/.test(brand) ? 'heif' : 'iso-media';
  }
  if (startsWith(bytes, [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50])) return 'jp2';
  if (startsWith(bytes, [0x42, 0x4d])) return 'bmp';
  const head = ascii(bytes, 0, 512).replace(/^\u00EF\u00BB\u00BF/, '').trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return 'svg';
  if (head.startsWith('<!doctype html') || head.startsWith('<html')) return 'html';
  if (head.startsWith('<')) return 'xml';
  return undefined;
};

/** Checks the upload's first bytes against the allowlist; the message names what was found. */
export const requireAllowedFormat = (bytes: Uint8Array, objectName: string): AllowedFormat => {
  if (bytes.length === 0) {
    throw new PipelineError('UNREADABLE_IMAGE', `${objectName} is empty (0 bytes)`);
  }
  const format = sniffFormat(bytes);
  if (format && (ALLOWED_FORMATS as readonly string[]).includes(format)) return format as AllowedFormat;
  throw new PipelineError(
    'UNSUPPORTED_FORMAT',
    `Expected one of: ${ALLOWED_FORMATS.join(', ')} for ${objectName} but received ${format ?? 'data of no known image format'}`,
  );
};
