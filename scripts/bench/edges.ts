/**
 * edgeMask against OpenCV (GaussianBlur σ 1.4 + Canny, L2 gradient, one
 * thread) on the same pictures at the same thresholds. The two alternate
 * one run at a time, so whatever else the machine is doing slows both alike;
 * the figures are medians over all rounds.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { DEFAULT_SIGMA, edgeMask, toGrey, type GreyImage } from '../../functions/core/edge-mask';
import { scene } from '../../test/helpers/shapes';
import { fixed, median, printTable, verdict, type GoalResult } from './common';
import { OpenCvAnchor } from './opencv';

export const EDGE_RATIO_GOAL = 5;
export const AGREEMENT_GOAL = 0.99;

interface EdgeCase {
  readonly name: string;
  readonly load: () => Promise<GreyImage>;
  readonly rounds: number;
}

const photo = (file: string, width: number, height: number) => async (): Promise<GreyImage> => {
  const bytes = await readFile(new URL(`../../test/fixtures/photos/${file}`, import.meta.url));
  const { data, info } = await sharp(bytes).greyscale().resize(width, height, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  return toGrey(new Uint8Array(data.buffer, data.byteOffset, data.length), info.width, info.height, info.channels);
};

// About 1 MP (the size prepare gives the default model) and 4 MP, photographs
// and the synthetic scene (shapes plus noise: many more ridges than a photo).
const FULL: readonly EdgeCase[] = [
  { name: 'scene+noise 1344x768', load: async () => scene(1344, 768), rounds: 21 },
  { name: 'chelsea.png 1344x768', load: photo('chelsea.png', 1344, 768), rounds: 21 },
  { name: 'rocket.jpg 1344x768', load: photo('rocket.jpg', 1344, 768), rounds: 21 },
  { name: 'astronaut.png 1024x1024', load: photo('astronaut.png', 1024, 1024), rounds: 21 },
  { name: 'scene+noise 2688x1536', load: async () => scene(2688, 1536), rounds: 9 },
  { name: 'coffee.png 2688x1536', load: photo('coffee.png', 2688, 1536), rounds: 9 },
];

const SMOKE: readonly EdgeCase[] = [
  { name: 'scene+noise 96x64', load: async () => scene(96, 64), rounds: 1 },
  { name: 'chelsea.png 96x64', load: photo('chelsea.png', 96, 64), rounds: 1 },
];

/** Of the pixels either mask marks, the share both mark alike; and the share of all pixels that agree. */
const agreement = (a: Uint8Array, b: Uint8Array): { edges: number; pixels: number } => {
  let either = 0;
  let differ = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== 0 || b[i] !== 0) {
      either++;
      if (a[i] !== b[i]) differ++;
    }
  }
  return { edges: either === 0 ? 1 : 1 - differ / either, pixels: 1 - differ / a.length };
};

export const benchEdges = async (smoke: boolean, tempDir: string): Promise<GoalResult[]> => {
  const cases = smoke ? SMOKE : FULL;
  const opencv = await OpenCvAnchor.start(tempDir);
  console.log('');
  if (opencv instanceof OpenCvAnchor) {
    console.log(`edge mask: edgeMask vs OpenCV ${opencv.version} (python3-opencv: GaussianBlur σ ${DEFAULT_SIGMA} + Canny L2, 1 thread)`);
  } else {
    console.log(`edge mask: OpenCV anchor missing: ${opencv.missing}; ratios skipped`);
  }
  const rows: string[][] = [['case', 'edgeMask ms', 'OpenCV ms', 'ratio', 'edge-pixel agreement', 'pixel agreement', 'low', 'high', 'density']];
  const ratios: number[] = [];
  const agreements: number[] = [];
  try {
    for (const edgeCase of cases) {
      const image = await edgeCase.load();
      const mask = edgeMask(image);
      const settings = { sigma: DEFAULT_SIGMA, low: mask.low, high: mask.high };
      const id = opencv instanceof OpenCvAnchor ? await opencv.load(image) : undefined;
      // Warm both up: V8 has to optimise edgeMask, and cv2 touches its buffers.
      for (let i = 0; i < (smoke ? 1 : 3); i++) edgeMask(image);
      let reference: Uint8Array | undefined;
      if (opencv instanceof OpenCvAnchor && id) reference = (await opencv.run(id, settings, smoke ? 1 : 3, true)).mask;
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let round = 0; round < edgeCase.rounds; round++) {
        const start = performance.now();
        edgeMask(image);
        ours.push(performance.now() - start);
        if (opencv instanceof OpenCvAnchor && id) theirs.push(...(await opencv.run(id, settings, 1, false)).samples);
      }
      const oursMs = median(ours);
      const theirMs = median(theirs);
      const agree = reference ? agreement(mask.data, reference) : undefined;
      if (reference) {
        ratios.push(oursMs / theirMs);
        agreements.push(agree!.pixels);
      }
      rows.push([
        edgeCase.name,
        fixed(oursMs),
        reference ? fixed(theirMs, 2) : 'missing',
        reference ? `${fixed(oursMs / theirMs, 2)}x` : 'skipped',
        agree ? `${fixed(100 * agree.edges, 2)}%` : 'skipped',
        agree ? `${fixed(100 * agree.pixels, 3)}%` : 'skipped',
        fixed(mask.low, 2),
        fixed(mask.high, 2),
        `${fixed(100 * mask.density, 2)}%`,
      ]);
    }
  } finally {
    if (opencv instanceof OpenCvAnchor) opencv.stop();
  }
  printTable(rows);
  console.log(
    'ms = median wall time, edgeMask and OpenCV alternating run by run; ratio = edgeMask / OpenCV; ' +
      'agreement at edgeMask\'s automatic thresholds (OpenCV given the same ones): "edge-pixel" counts only pixels either marks, "pixel" all pixels.',
  );
  const anchored = opencv instanceof OpenCvAnchor;
  const worstRatio = anchored ? Math.max(...ratios) : Number.NaN;
  const worstAgreement = anchored ? Math.min(...agreements) : Number.NaN;
  return [
    {
      goal: `edge mask <= ${EDGE_RATIO_GOAL}x OpenCV (worst case)`,
      measured: anchored ? `${fixed(worstRatio, 2)}x` : 'OpenCV missing',
      verdict: verdict(anchored ? worstRatio <= EDGE_RATIO_GOAL : undefined),
    },
    {
      goal: `pixel agreement with OpenCV >= ${100 * AGREEMENT_GOAL}% (worst case)`,
      measured: anchored ? `${fixed(100 * worstAgreement, 3)}%` : 'OpenCV missing',
      verdict: verdict(anchored ? worstAgreement >= AGREEMENT_GOAL : undefined),
    },
  ];
};
