import type { Sharp } from 'sharp';

/** Height of every tile: small enough to glance at in the S3 console, large enough to compare. */
const TILE_HEIGHT = 256;
const GAP = 8;
const PAPER = { r: 255, g: 255, b: 255, alpha: 1 };

/**
 * One small picture of an upload's outcome for people browsing the bucket:
 * the sized photo, the edge mask and each result, left to right, at one height.
 * sharp is loaded on first use, so a cold start that writes no sheet does not pay for it.
 */
export const contactSheet = async (tiles: readonly Uint8Array[]): Promise<Uint8Array> => {
  const { default: sharp } = await import('sharp');
  const scaled = await Promise.all(
    tiles.map(async (bytes) => {
      const { data, info } = await (sharp(bytes).resize({ height: TILE_HEIGHT }).flatten({ background: PAPER }).toColourspace('srgb') as Sharp)
        .png()
        .toBuffer({ resolveWithObject: true });
      return { data, width: info.width };
    }),
  );
  const width = scaled.reduce((sum, tile) => sum + tile.width, 0) + GAP * (scaled.length + 1);
  let left = GAP;
  const composites = scaled.map((tile) => {
    const placed = { input: tile.data, left, top: GAP };
    left += tile.width + GAP;
    return placed;
  });
  const sheet = await sharp({ create: { width, height: TILE_HEIGHT + 2 * GAP, channels: 3, background: PAPER } })
    .composite(composites)
    .png({ compressionLevel: 9 })
    .toBuffer();
  return new Uint8Array(sheet.buffer, sheet.byteOffset, sheet.length);
};
