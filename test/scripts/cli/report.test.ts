import { expect } from 'chai';
import { escapeHtml, hrefOf, renderGallery } from '../../../scripts/cli/gallery';
import { factsOf, formatUsd, isOutcomeOf, normalizeETag } from '../../../scripts/cli/manifest-fields';
import { formatStatus, parseSince } from '../../../scripts/cli/status-report';
import { formatSummary, summarize } from '../../../scripts/cli/summary';
import { partial, rejected, succeeded } from './manifests';

describe('scripts/cli/manifest-fields: reading a manifest', () => {
  it('reads what the user sees from a real manifest and its error.json', () => {
    const ok = factsOf(succeeded('photos/a.jpg', { count: 2, prompt: 'x, y' }).manifest);
    expect(ok).to.include({ key: 'photos/a.jpg', outcome: 'succeeded', prompt: 'x, y', modelCalls: 2, costUsd: 0.14, standIn: true, edges: 'photos/a.jpg/edges.png', contactSheet: 'photos/a.jpg/contact-sheet.png' });
    expect(ok.images).to.deep.equal(['photos/a.jpg/1.png', 'photos/a.jpg/2.png']);
    expect(ok.seeds).to.deep.equal([100, 101]);
    const bad = rejected('notes.txt');
    const failed = factsOf(bad.manifest, bad.error);
    expect(failed).to.include({ outcome: 'failed', reason: 'UNSUPPORTED_FORMAT', stage: 'prepare', modelCalls: 0, costUsd: 0 });
    expect(failed.message).to.match(/^Expected one of/);
    expect(factsOf(partial('p.jpg').manifest).callFailures).to.deep.equal(['CONTENT_FILTERED: Filter reason: output']);
    expect(factsOf({})).to.include({ key: '', outcome: 'unknown', modelCalls: 0 });
  });

  it("tells this upload's outcome from an earlier upload's by ETag and preparation time", () => {
    const { manifest } = succeeded('a.jpg', { eTag: 'abc' }); // preparedAt 2026-10-01T12:00:01Z
    expect(normalizeETag('"abc"')).to.equal('abc');
    expect(isOutcomeOf(manifest, { key: 'a.jpg', eTag: '"abc"' })).to.equal(true);
    expect(isOutcomeOf(manifest, { key: 'a.jpg', eTag: '"abd"' })).to.equal(false);
    expect(isOutcomeOf(manifest, { key: 'b.jpg', eTag: '"abc"' })).to.equal(false);
    expect(isOutcomeOf(manifest, { key: 'a.jpg', eTag: 'abc', lastModified: new Date('2026-10-01T12:00:01Z') })).to.equal(true);
    expect(isOutcomeOf(manifest, { key: 'a.jpg', eTag: 'abc', lastModified: new Date('2026-10-01T12:00:05Z') }), 'the same bytes uploaded again later').to.equal(false);
  });

  it('formats dollars', () => {
    expect(formatUsd(0)).to.equal('$0.00');
    expect(formatUsd(0.008)).to.equal('$0.0080');
    expect(formatUsd(12.345)).to.equal('$12.35');
  });
});

describe('scripts/cli/summary: the end-of-batch table', () => {
  it('counts outcomes by reason (succeeded first, then partial, then failures, most common first), model calls, cost and time', () => {
    const all = [succeeded('a'), succeeded('b', { count: 2 }), partial('c'), rejected('d'), rejected('e'), { manifest: { ...rejected('f').manifest, failure: { reason: 'MODEL_ERROR', message: 'x' } } }];
    const summary = summarize(
      all.map((m) => m.manifest),
      60_000,
      1,
    );
    expect(summary.outcomes).to.deep.equal([
      ['succeeded', 2],
      ['partial', 1],
      ['failed: UNSUPPORTED_FORMAT', 2],
      ['failed: MODEL_ERROR', 1],
    ]);
    expect(summary).to.include({ uploads: 6, images: 4, modelCalls: 5, standIn: 2, notProcessed: 1 });
    const text = formatSummary(summary);
    expect(text).to.equal(
      [
        'outcome',
        '  succeeded                   2',
        '  partial                     1',
        '  failed: UNSUPPORTED_FORMAT  2',
        '  failed: MODEL_ERROR         1',
        '  not processed               1',
        '',
        '  uploads                     6',
        '  images                      4',
        '  model calls                 5',
        '  estimated cost              $0.28 (2 answered by a stand-in, not billed)',
        '  time                        1 min 00 s (6.0 uploads/min)',
      ].join('\n'),
    );
    expect(formatSummary(summarize([succeeded('a').manifest], 2000))).to.include('$0.07 at list price (stand-in: no model was called, nothing was billed)');
  });
});

describe('scripts/cli/gallery: index.html', () => {
  const hostile = '<script>alert(1)</script> "quoted" & \'single\'';
  const page = renderGallery(
    [
      succeeded('photos/tiger.jpg', { prompt: hostile, count: 2 }),
      succeeded(`x"><img src=x onerror=alert(1)>.jpg`, { standIn: false }),
      rejected('notes/<b>readme</b>.txt', `Expected one of: jpeg, png, webp but received ${hostile}`),
    ],
    { generatedAt: new Date('2026-11-26T12:00:00Z'), elapsedMs: 42_000, notProcessed: [{ path: 'photos/<x>.fifo', reason: 'a FIFO' }] },
  );

  it('escapes every value that came from a user: no tag, no attribute break-out', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).to.equal('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    expect(page).not.to.include('<script');
    expect(page).not.to.include('<b>readme');
    expect(page).to.include('<h2>x&quot;&gt;&lt;img src=x onerror=alert(1)&gt;.jpg</h2>');
    // Every tag is one the page writes: an <img> has a src and an alt, both quoted, and nothing else.
    for (const tag of page.match(/<img\b[^>]*>/g) ?? []) expect(tag).to.match(/^<img src="[^"<>]*" alt="[^"<>]*">$/);
    expect(page).to.include('&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot; &amp; &#39;single&#39;');
    expect(page).to.include('photos/&lt;x&gt;.fifo');
  });

  it('links each file by a relative, percent-encoded path of the downloaded copy', () => {
    expect(hrefOf('photos/tiger.jpg/1.png')).to.equal('photos/tiger.jpg/1.png');
    expect(hrefOf('../up/a b.png')).to.equal('%252E%252E/up/a%20b.png');
    expect(hrefOf('javascript:alert(1)/1.png')).to.equal('javascript%253Aalert(1)/1.png');
    for (const src of page.match(/ (?:src|href)="[^"]*"/g) ?? []) {
      expect(src, src).to.match(/^ (?:src|href)="[A-Za-z0-9%._~!*'()/-]+"$/);
      expect(src, src).not.to.match(/="(?:\/|[a-z]+:)/);
    }
    expect(page).to.include('<img src="photos/tiger.jpg/contact-sheet.png"');
    expect(page).to.include('<img src="photos/tiger.jpg/edges.png"');
    expect(page).to.include('<img src="photos/tiger.jpg/2.png"');
    expect(page).to.include('href="photos/tiger.jpg/manifest.json"');
  });

  it('shows per upload the outcome or failure reason and message, model, seeds, cost, and the stand-in mark only where a stand-in answered', () => {
    expect(page).to.include('<span class="badge failed">failed: UNSUPPORTED_FORMAT</span>');
    expect(page).to.include('<span class="reason">UNSUPPORTED_FORMAT</span> <span>(in prepare)</span>');
    expect(page).to.include('<code>us.stability.stable-image-control-sketch-v1:0</code>');
    expect(page).to.include('<dt>seeds</dt><dd>100, 101</dd>');
    expect(page).to.include('<dt>estimated cost</dt><dd>$0.14 at list price; nothing was billed</dd>');
    expect(page.match(/stand-in: no model was called<\/span>/g)).to.have.length(1);
    expect(page).to.include('1 of 3 outcomes were answered by the local Bedrock stand-in');
    expect(page).to.include('<span>time <b>42.0 s</b></span>');
    expect(page).to.match(/default-src 'none'/);
  });
});

describe('scripts/cli/status-report: npm run status', () => {
  const now = new Date('2026-11-26T12:00:00Z');
  it('reads --since as a duration or a date', () => {
    expect(parseSince('24h', now).toISOString()).to.equal('2026-11-25T12:00:00.000Z');
    expect(parseSince('90m', now).toISOString()).to.equal('2026-11-26T10:30:00.000Z');
    expect(parseSince('7d', now).toISOString()).to.equal('2026-11-19T12:00:00.000Z');
    expect(parseSince('2026-11-26T08:00Z', now).toISOString()).to.equal('2026-11-26T08:00:00.000Z');
    expect(() => parseSince('yesterday', now)).to.throw(/--since "yesterday": expected a duration/);
  });

  it('shows the queues, the outcomes in the window by reason, the spend and the most recent failures', () => {
    const at = (iso: string) => new Date(iso);
    const text = formatStatus({
      where: 'local pipeline at http://127.0.0.1:1234',
      now,
      since: parseSince('24h', now),
      queues: { prepare: { waiting: 3, inFlight: 1, delayed: 0 }, generate: { waiting: 0, inFlight: 4, delayed: 1 }, deadLetter: { waiting: 2, inFlight: 0, delayed: 0 } },
      outcomes: [
        { facts: factsOf(succeeded('a.jpg').manifest), at: at('2026-11-26T11:00:00Z') },
        { facts: factsOf(succeeded('old.jpg').manifest), at: at('2026-11-24T11:00:00Z') },
        { facts: factsOf(rejected('b.txt').manifest, rejected('b.txt').error), at: at('2026-11-26T11:30:00Z') },
        { facts: factsOf(partial('c.jpg').manifest), at: at('2026-11-26T11:45:00Z') },
      ],
    });
    expect(text).to.equal(
      [
        'local pipeline at http://127.0.0.1:1234, 2026-11-26 12:00:00 UTC',
        '',
        'jobs in the queues (approximate, as SQS counts them)',
        '  prepare      waiting 3 · in progress 1',
        '  generate     waiting 1 · in progress 4',
        '  dead-letter  2 (failed every attempt; after a fix, npm run redrive moves them back)',
        '',
        'outcomes published since 2026-11-25 12:00:00 UTC',
        '  succeeded                   1',
        '  partial                     1',
        '  failed: UNSUPPORTED_FORMAT  1',
        '  total                       3 (2 images)',
        '  model calls                 3',
        '  estimated spend             $0.14 (1 answered by a stand-in: not billed)',
        '',
        'most recent failures',
        '  2026-11-26 11:45:00 UTC  c.jpg',
        '    partial: CONTENT_FILTERED: Filter reason: output',
        '  2026-11-26 11:30:00 UTC  b.txt',
        '    UNSUPPORTED_FORMAT: Expected one of: jpeg, png, webp for s3://in/b.txt but received data of no known image format',
      ].join('\n'),
    );
  });

  it('says so when a queue cannot be read or nothing was published', () => {
    const text = formatStatus({ where: 'x', now, since: now, queues: { prepare: { error: 'AccessDenied' } }, outcomes: [] });
    expect(text).to.include('  prepare      could not be read: AccessDenied');
    expect(text).to.include('  generate     (no such queue)');
    expect(text).to.include('outcomes published since 2026-11-26 12:00:00 UTC\n  none');
  });
});
