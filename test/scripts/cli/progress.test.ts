import { expect } from 'chai';
import { formatDuration, formatProgress, formatRate, Progress } from '../../../scripts/cli/progress';
import { ProgressView } from '../../../scripts/cli/progress-view';

const clock = () => {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};

describe('scripts/cli/progress: counts, rate and ETA', () => {
  it('counts uploaded, prepared, generated and failed, each key once, with the rate of finished outcomes and the time left', () => {
    const c = clock();
    const p = new Progress(4, { now: c.now });
    expect(p.snapshot()).to.include({ total: 4, uploaded: 0, prepared: 0, done: 0, perSecond: undefined, etaMs: undefined });
    for (const k of ['a', 'b', 'c', 'd']) p.uploaded(k);
    p.prepared('a');
    p.prepared('a');
    c.advance(2000);
    p.finish('a', 'succeeded');
    p.finish('a', 'failed'); // a key finishes once
    p.finish('b', 'failed'); // finished implies prepared
    const s = p.snapshot();
    expect(s).to.include({ uploaded: 4, prepared: 2, generated: 1, failed: 1, done: 2, perSecond: 1, etaMs: 2000, elapsedMs: 2000 });
    p.finish('c', 'partial');
    p.finish('d', 'succeeded');
    expect(p.snapshot()).to.include({ generated: 3, failed: 1, done: 4, etaMs: 0 });
  });

  it('leaves prepared out when the batch cannot see it', () => {
    const p = new Progress(1, { tracksPrepared: false });
    expect(p.snapshot().prepared).to.equal(undefined);
    expect(formatProgress(p.snapshot(), 0)).to.equal('0/1 done · uploaded 0 · generated 0 · failed 0 · ETA …');
  });

  it('formats one line with a bar, counts, rate and ETA', () => {
    const c = clock();
    const p = new Progress(12, { now: c.now });
    for (let i = 0; i < 12; i++) p.uploaded(String(i));
    c.advance(10_000);
    for (let i = 0; i < 6; i++) p.finish(String(i), i === 0 ? 'failed' : 'succeeded');
    expect(formatProgress(p.snapshot(), 10)).to.equal('[█████░░░░░] 6/12 done · uploaded 12 · prepared 6 · generated 5 · failed 1 · 36/min · ETA 10.0 s');
    expect(formatProgress(p.snapshot(), 4, false)).to.match(/^\[##--\] 6\/12/);
  });

  it('formats durations and rates for people', () => {
    expect(formatDuration(850)).to.equal('850 ms');
    expect(formatDuration(12_340)).to.equal('12.3 s');
    expect(formatDuration(245_000)).to.equal('4 min 05 s');
    expect(formatDuration(7_380_000)).to.equal('2 h 03 min');
    expect(formatRate(2.5)).to.equal('2.5/s');
    expect(formatRate(0.05)).to.equal('3.0/min');
  });
});

describe('scripts/cli/progress-view: a terminal line, or plain lines in a log', () => {
  const stream = (isTTY: boolean) => {
    const chunks: string[] = [];
    return { isTTY, columns: 120, write: (s: string) => chunks.push(s), chunks };
  };

  it('on a TTY redraws one line in place, prints messages above it and ends with a new line', () => {
    const c = clock();
    const out = stream(true);
    const p = new Progress(2, { now: c.now });
    const view = new ProgressView(p, out, { now: c.now, redrawMs: 100 });
    view.update(true);
    p.uploaded('a');
    view.update(); // too soon: not drawn
    c.advance(150);
    view.update();
    view.log('✓ a');
    view.stop();
    const text = out.chunks.join('');
    expect(out.chunks.filter((chunk) => chunk.startsWith('\r\x1b[2K[')).length).to.equal(3);
    expect(text).to.include('\r\x1b[2K✓ a\n');
    expect(text.endsWith('\n')).to.equal(true);
  });

  it('elsewhere prints plain lines without control characters, at most every interval and only when something changed', () => {
    const c = clock();
    const out = stream(false);
    const p = new Progress(2, { now: c.now, tracksPrepared: false });
    const view = new ProgressView(p, out, { now: c.now, intervalMs: 5000 });
    view.update(true);
    p.uploaded('a');
    c.advance(1000);
    view.update(); // within the interval
    c.advance(5000);
    view.update();
    c.advance(5000);
    view.update(); // unchanged: the rate and ETA are unknown, nothing new to say
    p.finish('a', 'succeeded');
    p.finish('b', 'failed');
    view.stop();
    expect(out.chunks).to.have.length(3);
    expect(out.chunks.join('')).not.to.match(/[\x00-\x09\x0b-\x1f]/);
    expect(out.chunks[2]).to.match(/^2\/2 done · uploaded 1 · generated 1 · failed 1 · .* · in 11\.0 s\n$/);
  });
});
