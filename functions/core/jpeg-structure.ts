import { PipelineError } from './errors';

/**
 * A JPEG's marker structure, read without decoding: what a progressive file
 * will cost libjpeg before libjpeg is asked.
 *
 * Why scans matter: libjpeg decodes a progressive JPEG scan by scan, and every
 * scan is a pass over every 8×8 block of the component(s) it covers, however
 * few bytes the scan takes in the file. An AC scan whose blocks are all zero
 * codes them as end-of-band runs of up to 32767 blocks, a few bytes each, so a
 * file under a megabyte can hold thousands of full-size scans (libjpeg-turbo's
 * "LJT-01-003"; see DEFAULT_MAX_JPEG_SCANS for measured times). The file is valid JPEG:
 * only the scan count gives it away.
 */
export interface JpegStructure {
  /** SOS markers up to EOI (or up to where the walk stopped). Each one is a decoder pass. */
  readonly scans: number;
  /** From the frame header (SOFn); 0 when none was seen. */
  readonly components: number;
  readonly width: number;
  readonly height: number;
  /** SOF2, SOF6, SOF10 or SOF14. */
  readonly progressive: boolean;
  /**
   * How the walk ended: `eoi` at the end-of-image marker; `truncated` when the
   * bytes ran out first; `malformed` at a structural error (`problem` says which).
   * The counts are those seen up to that point — a lower bound of what a decoder
   * would go through before giving up.
   */
  readonly end: 'eoi' | 'truncated' | 'malformed';
  readonly problem?: string;
}

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const TEM = 0x01;
const isRst = (marker: number): boolean => marker >= 0xd0 && marker <= 0xd7;
/** SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC). */
const isSof = (marker: number): boolean => marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
const isProgressiveSof = (marker: number): boolean => marker === 0xc2 || marker === 0xc6 || marker === 0xca || marker === 0xce;

/**
 * The position of the next marker at or after `from`, as libjpeg finds it
 * (next_marker(), and its Huffman reader inside entropy-coded data): bytes other than
 * 0xFF are skipped, runs of 0xFF are fill, 0xFF 0x00 is a stuffed data byte and
 * RST0..7 are restart markers — all of these belong to the data (or are extraneous
 * bytes libjpeg skips with a warning) — so the scan ends at the first other marker.
 * Returns the index of that marker's 0xFF, or -1 when the bytes end first.
 * Linear: every byte is looked at once.
 */
const nextMarker = (bytes: Uint8Array, from: number): number => {
  let at = from;
  for (;;) {
    const ff = bytes.indexOf(0xff, at);
    if (ff < 0) return -1;
    let next = ff + 1;
    while (next < bytes.length && bytes[next] === 0xff) next++;
    if (next >= bytes.length) return -1;
    const marker = bytes[next]!;
    if (marker !== 0x00 && !isRst(marker)) return next - 1;
    at = next + 1;
  }
};

/**
 * Walks the marker segments from SOI to EOI: lengths are followed, SOFn is read
 * for the frame, each SOS is counted and its entropy-coded data skipped the way
 * libjpeg does (see nextMarker). Never throws and never reads past `bytes`; one
 * pass over the bytes, so its time is linear in the file size.
 */
export const readJpegStructure = (bytes: Uint8Array): JpegStructure => {
  let scans = 0;
  let components = 0;
  let width = 0;
  let height = 0;
  let progressive = false;
  let frameSeen = false;
  const result = (end: JpegStructure['end'], problem?: string): JpegStructure => ({
    scans,
    components,
    width,
    height,
    progressive,
    end,
    ...(problem !== undefined ? { problem } : {}),
  });

  if (bytes.length < 2) return result('truncated');
  if (bytes[0] !== 0xff || bytes[1] !== SOI) return result('malformed', 'no SOI marker at the start');
  let at = 2;
  for (;;) {
    // Between segments libjpeg skips anything that is not a marker (with a warning), so do we.
    const ff = nextMarker(bytes, at);
    if (ff < 0) return result('truncated');
    let markerAt = ff + 1;
    while (bytes[markerAt] === 0xff) markerAt++;
    const marker = bytes[markerAt]!;
    at = markerAt + 1;

    if (marker === EOI) return result('eoi');
    if (marker === SOI) return result('malformed', 'a second SOI marker');
    if (marker === TEM || isRst(marker)) continue; // no length; libjpeg ignores a stray RSTn here
    if (at + 2 > bytes.length) return result('truncated');
    const length = (bytes[at]! << 8) | bytes[at + 1]!;
    if (length < 2) return result('malformed', `a segment length of ${length} (marker 0xFF${marker.toString(16).toUpperCase()})`);
    const bodyStart = at + 2;
    const end = at + length;
    if (end > bytes.length) return result('truncated');

    if (isSof(marker)) {
      if (frameSeen) return result('malformed', 'a second frame header (SOF)');
      if (length < 8) return result('malformed', 'a frame header (SOF) shorter than 8 bytes');
      frameSeen = true;
      height = (bytes[bodyStart + 1]! << 8) | bytes[bodyStart + 2]!;
      width = (bytes[bodyStart + 3]! << 8) | bytes[bodyStart + 4]!;
      components = bytes[bodyStart + 5]!;
      progressive = isProgressiveSof(marker);
    } else if (marker === SOS) {
      if (!frameSeen) return result('malformed', 'a scan (SOS) before the frame header (SOF)');
      scans++;
      // The entropy-coded data runs from the end of the SOS header to the next marker.
      at = end;
      continue;
    }
    at = end;
  }
};

/**
 * Scans a JPEG may have unless MAX_JPEG_SCANS says otherwise. Real encoders stay far
 * below: libjpeg's default progressive script (jpeg_simple_progression, what sharp's
 * `progressive: true` and most cameras and editors write) is 10 scans for YCbCr, 6 for
 * grey and 18 for CMYK; mozjpeg's optimised scripts measured 4 to 9 (18 for CMYK); a
 * baseline JPEG has 1 (at most one per component). Hand-written jpegtran scripts that
 * split every band rarely pass a few dozen. 100 is five times the most any common encoder
 * writes, and keeps the worst case small: libjpeg passes over each scan's blocks, so a
 * 100-scan file at the 60 MP pixel limit decodes in seconds (measured with sharp on a
 * loaded 2-core machine: 7680×7680, 100 scans, YCbCr 1.4 s; 97 scans, CMYK 3.4 s), against
 * 50 s for 2,647 scans (YCbCr, 637 KB) and 126 s for 3,529 (CMYK, 849 KB) at the same size. Scans × pixels is thereby bounded by MAX_JPEG_SCANS × MAX_INPUT_PIXELS:
 * no separate work bound is needed.
 */
export const DEFAULT_MAX_JPEG_SCANS = 100;

/**
 * Refuses a JPEG whose scan count is over `maxScans` with DECODER_LIMIT, before any
 * decoder sees it; returns the structure otherwise. Malformed or truncated files
 * pass through (the decoder reports them as UNREADABLE_IMAGE with its own words),
 * but the scans counted before the defect still count: libjpeg would go through
 * them before reaching it.
 */
export const requireJpegScansWithin = (bytes: Uint8Array, maxScans: number, objectName: string): JpegStructure => {
  const structure = readJpegStructure(bytes);
  if (structure.scans > maxScans) {
    const kind = structure.progressive ? 'a progressive JPEG' : 'a JPEG';
    const counted = structure.end === 'eoi' ? `${structure.scans}` : `at least ${structure.scans}`;
    throw new PipelineError(
      'DECODER_LIMIT',
      `${objectName} is ${kind} with ${counted} scans; at most ${maxScans} are accepted (MAX_JPEG_SCANS): ` +
        'every scan is a pass of the decoder over the whole picture. Re-save it as a standard (baseline or progressive) JPEG',
    );
  }
  return structure;
};
