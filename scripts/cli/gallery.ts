/**
 * `index.html`: one page showing every downloaded outcome, readable offline (no script, no
 * remote font or stylesheet: everything inline; pictures by relative links to the files next
 * to it, so the folder can be moved or zipped as a whole).
 *
 * Per upload: the key, the outcome (or the failure's reason and message), the contact sheet
 * (photo · edge mask · results, as generate draws it), the edge mask and each result linked
 * to its file, the prompt and negative prompt, the model, the seeds, the model calls and the
 * estimated cost, and a visible "stand-in: no model was called" mark when the manifest says a
 * stand-in answered.
 *
 * Everything from a manifest is user input (prompts, keys, messages quoting them) and is
 * HTML-escaped; links are built from the local path of each object key
 * (scripts/local/local-path.ts, the mapping the downloads use) with every path component
 * percent-encoded, so a key can neither break out of an attribute nor name a scheme.
 *
 * @module
 */
import { outputKeys } from '../../functions/core/naming';
import { localRelativePath } from '../local/local-path';
import { factsOf, formatUsd, outcomeLabel, type ManifestFacts, type ManifestJson } from './manifest-fields';
import { formatDuration } from './progress';
import { summarize } from './summary';

export interface GalleryEntry {
  readonly manifest: ManifestJson;
  /** The folder's error.json, when there is one. */
  readonly error?: ManifestJson;
}

export interface GalleryOptions {
  readonly title?: string;
  /** When the page was made (shown; injectable for tests). */
  readonly generatedAt?: Date;
  /** The batch's duration, for the header. */
  readonly elapsedMs?: number;
  /** Files that never got an outcome (not uploaded, or timed out), listed at the top. */
  readonly notProcessed?: readonly { readonly path: string; readonly reason: string }[];
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for HTML content or a quoted attribute value. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/** The relative URL (from the page in the download folder) of an object key's downloaded file. */
export const hrefOf = (key: string): string => localRelativePath(key).split('/').map(encodeURIComponent).join('/');

const STYLE = `
:root { color-scheme: light; --ink: #1d232b; --muted: #5b6673; --line: #dde2e8; --bg: #f4f6f8; --card: #fff;
  --ok: #1f7a3d; --ok-bg: #e3f4e8; --warn: #8a5a00; --warn-bg: #fff3d6; --bad: #a4262c; --bad-bg: #fde7e8; --accent: #3557b7; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: var(--bg); }
header { padding: 20px 28px 14px; background: var(--card); border-bottom: 1px solid var(--line); }
h1 { margin: 0 0 6px; font-size: 22px; }
.totals { display: flex; flex-wrap: wrap; gap: 8px 18px; color: var(--muted); font-size: 14px; }
.totals b { color: var(--ink); }
.notice { margin: 10px 0 0; padding: 8px 12px; border-radius: 6px; background: var(--warn-bg); color: var(--warn); font-size: 14px; }
main { padding: 20px 28px 40px; display: grid; gap: 18px; }
article { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px;
  display: grid; grid-template-columns: minmax(0, 3fr) minmax(240px, 2fr); gap: 4px 24px; align-items: start; }
article > .head, article > .failure { grid-column: 1 / -1; }
article > .visual:empty { display: none; }
@media (max-width: 760px) { article { grid-template-columns: minmax(0, 1fr); } }
article.failed { border-left: 5px solid var(--bad); }
article.partial { border-left: 5px solid var(--warn); }
article.succeeded { border-left: 5px solid var(--ok); }
.head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 8px 12px; }
h2 { margin: 0; font-size: 17px; word-break: break-all; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 13px; font-weight: 600; }
.badge.succeeded { background: var(--ok-bg); color: var(--ok); }
.badge.partial { background: var(--warn-bg); color: var(--warn); }
.badge.failed { background: var(--bad-bg); color: var(--bad); }
.standin { background: var(--warn-bg); color: var(--warn); border: 1px dashed var(--warn); }
.failure { margin: 10px 0 0; padding: 10px 12px; border-radius: 6px; background: var(--bad-bg); color: var(--bad); }
.failure .reason { font-weight: 700; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.failure .message { color: var(--ink); margin-top: 4px; white-space: pre-wrap; word-break: break-word; }
.sheet { margin: 12px 0 6px; }
.sheet img { display: block; max-width: 100%; max-height: 240px; border-radius: 6px; border: 1px solid var(--line); background: #000; }
.files { display: flex; flex-wrap: wrap; gap: 12px; margin: 10px 0 4px; }
figure { margin: 0; }
figure img { display: block; height: 96px; max-width: 180px; object-fit: contain; border-radius: 6px; border: 1px solid var(--line); background: #111; }
figcaption { font-size: 12px; color: var(--muted); margin-top: 3px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 3px 14px; margin: 12px 0 0; font-size: 14px; }
dt { color: var(--muted); }
dd { margin: 0; word-break: break-word; }
.prompt { white-space: pre-wrap; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px; }
a { color: var(--accent); }
ul.skipped { margin: 6px 0 0; padding-left: 20px; }
footer { padding: 0 28px 28px; color: var(--muted); font-size: 13px; }
`;

const image = (key: string, caption: string, alt: string): string =>
  `<figure><a href="${hrefOf(key)}"><img src="${hrefOf(key)}" alt="${escapeHtml(alt)}"></a><figcaption>${escapeHtml(caption)}</figcaption></figure>`;

const row = (label: string, html: string | undefined): string => (html === undefined ? '' : `<dt>${escapeHtml(label)}</dt><dd>${html}</dd>`);

const card = (f: ManifestFacts, index: number): string => {
  const files = [
    ...(f.edges ? [image(f.edges, 'edge mask', `edge mask of ${f.key}`)] : []),
    ...f.images.map((k, i) => image(k, `result ${i + 1}${f.seeds[i] !== undefined ? ` · seed ${f.seeds[i]}` : ''}`, `result ${i + 1} for ${f.key}`)),
  ];
  const outcomeClass = f.outcome === 'unknown' ? 'failed' : f.outcome;
  return [
    `<article class="${outcomeClass}" id="upload-${index + 1}">`,
    `<div class="head"><h2>${escapeHtml(f.key)}</h2><span class="badge ${outcomeClass}">${escapeHtml(outcomeLabel(f))}</span>`,
    f.standIn ? `<span class="badge standin" title="${escapeHtml(f.standInNote ?? '')}">stand-in: no model was called</span>` : '',
    `</div>`,
    f.outcome === 'failed' || f.outcome === 'unknown'
      ? `<div class="failure"><span class="reason">${escapeHtml(f.reason ?? 'unknown reason')}</span>${f.stage ? ` <span>(in ${escapeHtml(f.stage)})</span>` : ''}<div class="message">${escapeHtml(f.message ?? 'no message')}</div></div>`
      : '',
    f.outcome === 'partial' && f.callFailures.length > 0 ? `<div class="failure"><div class="message">${f.callFailures.map(escapeHtml).join('<br>')}</div></div>` : '',
    '<div class="visual">',
    f.contactSheet ? `<div class="sheet"><a href="${hrefOf(f.contactSheet)}"><img src="${hrefOf(f.contactSheet)}" alt="${escapeHtml(`photo, edge mask and results of ${f.key}`)}"></a></div>` : '',
    files.length > 0 ? `<div class="files">${files.join('')}</div>` : '',
    '</div>',
    '<dl>',
    row('prompt', f.prompt === undefined ? undefined : `<span class="prompt">${escapeHtml(f.prompt)}</span>`),
    row('negative prompt', f.negativePrompt ? `<span class="prompt">${escapeHtml(f.negativePrompt)}</span>` : undefined),
    row('model', f.modelId ? `<code>${escapeHtml(f.modelId)}</code>` : undefined),
    row('seeds', f.seeds.length > 0 ? f.seeds.join(', ') : undefined),
    row('model calls', String(f.modelCalls)),
    row('estimated cost', `${formatUsd(f.costUsd)}${f.standIn ? ' at list price; nothing was billed' : ''}`),
    row('files', `<a href="${hrefOf(outputKeys(f.key).manifest)}">manifest.json</a>${f.error ? ` · <a href="${hrefOf(f.error)}">error.json</a>` : ''}`),
    '</dl>',
    '</article>',
  ].join('');
};

export const renderGallery = (entries: readonly GalleryEntry[], options: GalleryOptions = {}): string => {
  const facts = entries.map((e) => factsOf(e.manifest, e.error));
  const summary = summarize(facts, options.elapsedMs ?? 0, options.notProcessed?.length ?? 0);
  const title = options.title ?? 'Image conditioning pipeline: results';
  const standIns = facts.filter((f) => f.standIn).length;
  const totals = [
    `<span><b>${summary.uploads}</b> uploads</span>`,
    ...summary.outcomes.map(([label, n]) => `<span>${escapeHtml(label)}: <b>${n}</b></span>`),
    `<span><b>${summary.images}</b> images</span>`,
    `<span><b>${summary.modelCalls}</b> model calls</span>`,
    `<span>estimated cost <b>${formatUsd(summary.costUsd)}</b></span>`,
    ...(options.elapsedMs !== undefined ? [`<span>time <b>${escapeHtml(formatDuration(options.elapsedMs))}</b></span>`] : []),
  ];
  const skipped = options.notProcessed ?? [];
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // No script, no remote resource: the page can only show what is in this folder.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'">`,
    `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>`,
    `<header><h1>${escapeHtml(title)}</h1><div class="totals">${totals.join('')}</div>`,
    standIns > 0
      ? `<p class="notice">${standIns === facts.length ? 'All outcomes were' : `${standIns} of ${facts.length} outcomes were`} answered by the local Bedrock stand-in: no model was called and nothing was billed; the costs shown are what the model would have cost.</p>`
      : '',
    skipped.length > 0
      ? `<div class="notice">Not processed:<ul class="skipped">${skipped.map((s) => `<li><code>${escapeHtml(s.path)}</code>: ${escapeHtml(s.reason)}</li>`).join('')}</ul></div>`
      : '',
    '</header><main>',
    facts.map(card).join('\n'),
    '</main>',
    `<footer>Made ${escapeHtml((options.generatedAt ?? new Date()).toISOString())} from each folder's manifest.json.</footer>`,
    '</body></html>',
    '',
  ].join('\n');
};
