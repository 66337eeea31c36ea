/**
 * The OpenCV anchor of the edge-mask benchmark: Debian's `python3-opencv`
 * (OpenCV 4.6, native code, the same build users of cv2 get) driven through
 * scripts/bench/opencv-canny.py, a worker that stays up for the whole run.
 * Native cv2 rather than @techstark/opencv-js: the WebAssembly build is
 * several times slower than the native library, so it would flatter our
 * ratio against what "OpenCV" means to anyone reading the goal.
 *
 * Debian's cv2 is built for Debian's Python 3.11 in /usr/bin; a pyenv python3
 * earlier on PATH would not see it, hence the explicit path (BENCH_PYTHON
 * overrides it, and a path that does not exist exercises the missing anchor).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { GreyImage } from '../../functions/core/edge-mask';

const SCRIPT = fileURLToPath(new URL('./opencv-canny.py', import.meta.url));
export const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3';

export interface CannySettings {
  readonly sigma: number;
  /** edgeMask's thresholds, in its magnitude scale (grey levels). */
  readonly low: number;
  readonly high: number;
}

/**
 * OpenCV's thresholds for edgeMask's. OpenCV's Sobel is not divided by 4,
 * and with L2gradient it compares squared magnitudes strictly above
 * floor(T²) where edgeMask keeps squares at or above ceil(16 t²) (the same
 * integers gx² + gy² on both sides): T = √(ceil(16 t²) − ½) makes the two
 * rules pick exactly the same integers.
 */
export const opencvThreshold = (t: number): number => Math.sqrt(Math.max(1, Math.ceil(16 * t * t)) - 0.5);

export class OpenCvAnchor {
  private readonly lines: AsyncIterator<string>;
  private loaded = 0;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly version: string,
    lines: AsyncIterator<string>,
    private readonly dir: string,
  ) {
    this.lines = lines;
  }

  /** The anchor, or why it is missing. */
  static async start(dir: string): Promise<OpenCvAnchor | { missing: string }> {
    const child = spawn(PYTHON, [SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const spawned = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', resolve);
    });
    if (spawned) return { missing: `${PYTHON} could not start (${spawned.message}); install python3-opencv` };
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    const hello = first.done ? { error: stderr.trim() || 'no answer' } : (JSON.parse(first.value) as { ready?: boolean; version?: string; error?: string });
    if (!hello.ready) {
      child.kill();
      return { missing: `${PYTHON}: ${hello.error ?? 'no answer'} (install python3-opencv)` };
    }
    return new OpenCvAnchor(child, hello.version ?? '?', lines, dir);
  }

  private async ask(command: object): Promise<Record<string, unknown>> {
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
    const answer = await this.lines.next();
    if (answer.done) throw new Error('The OpenCV worker stopped');
    const parsed = JSON.parse(answer.value) as Record<string, unknown>;
    if (typeof parsed.error === 'string') throw new Error(`OpenCV worker: ${parsed.error}`);
    return parsed;
  }

  /** Hands the worker an image; returns its handle. */
  async load(image: GreyImage): Promise<string> {
    const id = `image${this.loaded++}`;
    const path = join(this.dir, `${id}.raw`);
    await writeFile(path, image.data);
    await this.ask({ op: 'load', id, path, width: image.width, height: image.height });
    return id;
  }

  /** Times `iterations` runs of GaussianBlur + Canny; returns the samples (ms) and the last mask. */
  async run(id: string, settings: CannySettings, iterations: number, withMask: boolean): Promise<{ samples: number[]; mask?: Uint8Array }> {
    const maskPath = withMask ? join(this.dir, `${id}.mask.raw`) : undefined;
    const answer = await this.ask({
      op: 'run',
      id,
      sigma: settings.sigma,
      // The same radius as edgeMask's kernel, ceil(3σ); OpenCV's own default is shorter.
      ksize: 2 * Math.ceil(3 * settings.sigma) + 1,
      low: opencvThreshold(settings.low),
      high: opencvThreshold(settings.high),
      iterations,
      mask: maskPath,
    });
    const samples = answer.samples as number[];
    return maskPath ? { samples, mask: new Uint8Array(await readFile(maskPath)) } : { samples };
  }

  stop(): void {
    this.child.stdin.end();
  }
}
