/**
 * The generated bad-input corpus (scripts/make-corpus.ts) through the whole
 * local pipeline, as the default synthesized stack wires it: every upload ends
 * as pictures or as error.json with the expected reason, no function crashes,
 * nothing is retried, nothing reaches the dead-letter file, and the next
 * normal upload still works.
 */
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../scripts/build-functions';
import { corpusBytes, corpusStream, makeCorpus, type CorpusEntry } from '../../scripts/make-corpus';
import { STACK_JSON, type Outcome } from '../../scripts/local/pipeline';
import { outputKeys } from '../../functions/core/naming';
import { describeOutcomes, useHarness } from './support';
import './summary';

/** The model of the default synthesized stack: prompt limits depend on it. */
const stackModelId = (): string | undefined => {
  const path = join(ROOT, STACK_JSON);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')).variable?.model_id?.default;
};

describe('reliability: the bad-input corpus through the local pipeline', function () {
  this.timeout(180_000);
  const harness = useHarness('corpus');
  let corpusDir: string;
  let entries: CorpusEntry[];
  const outcomes = new Map<string, Outcome>();
  let canary: Server;
  const canaryHits: string[] = [];

  before(async function () {
    this.timeout(180_000);
    canary = createServer((req, res) => {
      canaryHits.push(req.url ?? '');
      res.end();
    });
    await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
    const canaryUrl = `http://127.0.0.1:${(canary.address() as AddressInfo).port}/canary.png`;
    corpusDir = await mkdtemp(join(tmpdir(), 'icp-corpus-'));
    const modelId = stackModelId();
    entries = await makeCorpus(corpusDir, { canaryUrl, ...(modelId ? { modelId } : {}) });

    // All at once, as a user's sync of a messy folder would.
    const h = harness();
    await Promise.all(
      entries.map(async (entry) => {
        if (entry.multipart) await h.uploadMultipart(entry.key, corpusStream(entry), { ...entry.metadata });
        else await h.upload(entry.key, await corpusBytes(entry), { ...entry.metadata });
      }),
    );
    await Promise.all(entries.map(async (entry) => outcomes.set(entry.name, await h.pipeline.waitForOutcome(entry.key, 150_000))));
    await h.pipeline.idle();
  });

  after(async () => {
    await new Promise<void>((resolve) => canary?.close(() => resolve()));
    if (corpusDir) await rm(corpusDir, { recursive: true, force: true });
  });

  it('ends every input as the expected outcome: pictures, or error.json with the specific reason', () => {
    const got = Object.fromEntries(entries.map((e) => [e.name, outcomes.get(e.name)?.error?.reason ?? (outcomes.get(e.name)?.manifest.outcome === 'succeeded' ? 'result' : outcomes.get(e.name)?.manifest.outcome)]));
    const expected = Object.fromEntries(entries.map((e) => [e.name, e.expected]));
    const table = entries.map((e) => `${e.name.padEnd(20)} ${String(e.expected).padEnd(18)} ${got[e.name]}  (${outcomes.get(e.name)?.error?.message ?? ''})`).join('\n');
    expect(got, table).to.deep.equal(expected);
  });

  it('writes a complete, consistent outcome for each: manifest, and error.json or the pictures', () => {
    for (const entry of entries) {
      const outcome = outcomes.get(entry.name)!;
      const keys = outputKeys(entry.key);
      expect(outcome.manifest.source.key, entry.name).to.equal(entry.key);
      if (entry.expected === 'result') {
        expect(outcome.manifest.outcome, entry.name).to.equal('succeeded');
        expect(outcome.keys, entry.name).to.have.members([keys.image(1), keys.contactSheet, keys.edges, keys.manifest]);
        expect(outcome.manifest.outputs, entry.name).to.deep.equal({ images: [keys.image(1)], edges: keys.edges, contactSheet: keys.contactSheet, error: null });
      } else {
        expect(outcome.error, entry.name).to.include({ reason: entry.expected, permanent: true });
        expect(outcome.error!.message, entry.name).to.be.a('string').and.not.match(/^\s*$/);
        expect(outcome.error!.source, entry.name).to.include({ key: entry.key });
        expect(outcome.manifest.outcome, entry.name).to.equal('failed');
        expect(outcome.manifest.failure, entry.name).to.include({ reason: entry.expected });
        // A failed outcome is error.json and the manifest only: no generated pictures, no edge mask.
        expect(outcome.keys, entry.name).to.have.members([keys.error, keys.manifest]);
        expect(outcome.manifest.outputs, entry.name).to.deep.equal({ images: [], edges: null, contactSheet: null, error: keys.error });
        expect(outcome.error!.stage, entry.name).to.equal('prepare');
      }
    }
  });

  it('orients, decodes and names as the user meant: EXIF rotation, RFC 2047 prompt, encoded keys', () => {
    for (const entry of entries.filter((e) => e.check)) {
      const manifest = outcomes.get(entry.name)!.manifest;
      if (entry.check!.sourceSize) expect(manifest.sizes.source, entry.name).to.deep.equal(entry.check!.sourceSize);
      if (entry.check!.prompt) expect(manifest.prompt, entry.name).to.equal(entry.check!.prompt);
    }
    const long = entries.find((e) => e.name === 'key-very-long')!;
    expect(Buffer.byteLength(long.key)).to.equal(1000);
    expect(outcomes.get(long.name)!.keys).to.include(outputKeys(long.key).image(1));
  });

  it('keeps every output key within the 1024 bytes real S3 allows (the local server does not check)', () => {
    const tooLong = entries.flatMap((entry) => outcomes.get(entry.name)!.keys.filter((key) => Buffer.byteLength(key) > 1024).map((key) => `${entry.name}: ${Buffer.byteLength(key)} bytes`));
    expect(tooLong, 'output keys real S3 would refuse with KeyTooLongError (generate would throw, be retried and dead-letter the upload)').to.deep.equal([]);
  });

  it('refuses the large and the hostile without touching them: size from Content-Length, SVG never parsed', () => {
    const huge = outcomes.get('over-50mb')!;
    expect(huge.error!.message).to.match(/Expected at most 52428800 bytes .* but received 52428801 bytes/);
    const bomb = outcomes.get('decompression-bomb')!;
    expect(bomb.error!.message).to.match(/pixel limit/);
    expect(entries.find((e) => e.name === 'decompression-bomb')!.size).to.be.below(200_000);
    expect(canaryHits, 'the SVG external entity / href was fetched').to.deep.equal([]);
  });

  it('crashes no function, retries nothing and dead-letters nothing', () => {
    const { prepare, generate } = harness().pipeline.functions;
    const all = [...prepare!.outcomes, ...generate!.outcomes];
    expect(all.every((o) => o.ok && o.attempt === 1), describeOutcomes(all)).to.equal(true);
    // No duplicate work either: prepare's mapping hands it up to five uploads a batch, generate one job
    // file per invocation (plus S3's test message to each queue at start).
    const batched = Math.ceil(entries.length / 5);
    expect(prepare!.outcomes.length).to.be.within(batched, entries.length + 1);
    expect(generate!.outcomes.length).to.be.within(entries.length, entries.length + 1);
    expect(harness().deadLetters()).to.deep.equal([]);
  });

  it('calls the model only for the inputs that end as results, once each', () => {
    const calls = harness().pipeline.standIn!.calls;
    expect(calls).to.have.length(entries.filter((e) => e.expected === 'result').length);
    expect(calls.every((c) => c.status === 200)).to.equal(true);
  });

  it('still processes a normal upload afterwards', async () => {
    const h = harness();
    const key = 'after-corpus/coffee.png';
    await h.upload(key, await readFile(join(ROOT, 'test', 'fixtures', 'photos', 'coffee.png')), { prompt: 'coffee as a pencil sketch' });
    const outcome = await h.pipeline.waitForOutcome(key);
    expect(outcome.error).to.equal(undefined);
    expect(outcome.manifest.outcome).to.equal('succeeded');
    expect(outcome.keys).to.include(outputKeys(key).image(1));
    expect(outputKeys(key).image(1)).to.equal('after-corpus/coffee.png/1.png');
  });
});
