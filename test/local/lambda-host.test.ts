/**
 * The local execution environments' memory accounting: an invocation fails as out of memory
 * when its own environment's peak passes the function's memory size, and only then.
 */
import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../scripts/build-functions';
import { defaultWorkerPath, LocalFunction } from '../../scripts/local/lambda-host';
import { ensureBuilt } from '../helpers/build';

const MEMORY_MB = 128;

/** Touches `mb` MiB (so they count in RSS) when the event asks for it. */
const STUB = `
exports.handler = async (event) => {
  const held = event.touchMb ? Buffer.alloc(event.touchMb * 1024 * 1024, 1) : undefined;
  return { touched: held ? held.length : 0 };
};
`;

describe('local Lambda host: memory', function () {
  this.timeout(60_000);
  let dir: string;
  let fn: LocalFunction | undefined;
  /** Held by this (the host) process while the environments start, as a long test run's heap is. */
  let ballast: Buffer | undefined;

  before(async function () {
    this.timeout(180_000);
    await ensureBuilt();
    dir = await mkdtemp(join(tmpdir(), 'icp-lambda-host-'));
    await mkdir(join(dir, 'stub'));
    await writeFile(join(dir, 'stub', 'index.js'), STUB);
  });
  afterEach(async () => {
    await fn?.close();
    fn = undefined;
    ballast = undefined;
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const start = (options: { reservedConcurrency?: number } = {}): LocalFunction =>
    (fn = new LocalFunction(
      { id: 'stub', handler: 'index.handler', environment: {}, memoryMb: MEMORY_MB, timeoutS: 30, ...options },
      { bundleDir: join(dir, 'stub'), workerPath: defaultWorkerPath(ROOT), baseEnv: {}, logFile: join(dir, 'logs', 'stub.log') },
    ));

  it("counts the environment's own peak, not the host's: a host bigger than the memory size starts environments that work", async () => {
    // getrusage's maxRSS carries the parent's peak over fork and exec on Linux: after a long
    // backlog the test process passed 512 MB, and every new environment was "out of memory".
    ballast = Buffer.alloc((MEMORY_MB + 200) * 1024 * 1024, 1);
    expect(process.memoryUsage().rss / 2 ** 20, `the host, holding ${ballast.length / 2 ** 20} MiB, is bigger than the memory size`).to.be.above(MEMORY_MB + 100);
    const outcome = await start().invoke({});
    expect(outcome.error, JSON.stringify(outcome.error)).to.equal(undefined);
    expect(outcome.ok).to.equal(true);
    expect(outcome.maxRssMb).to.be.above(0).and.below(MEMORY_MB);
  });

  it('fails an invocation whose environment passes the memory size as Runtime.OutOfMemory', async () => {
    const outcome = await start().invoke({ touchMb: MEMORY_MB + 64 });
    expect(outcome.ok).to.equal(false);
    expect(outcome.error?.name).to.equal('Runtime.OutOfMemory');
    expect(outcome.maxRssMb).to.be.above(MEMORY_MB + 64);
  });

  it('gives the next invocation a new environment, not the one it discarded for running out of memory', async () => {
    const f = start({ reservedConcurrency: 1 });
    const [first, second] = await Promise.all([f.invoke({ touchMb: MEMORY_MB + 64 }), f.invoke({})]);
    expect(first.error?.name).to.equal('Runtime.OutOfMemory');
    expect(second.error, JSON.stringify(second.error)).to.equal(undefined);
    expect(second.ok).to.equal(true);
  });
});
