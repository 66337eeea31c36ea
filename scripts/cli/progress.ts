/**
 * What a batch has done so far, for the progress line: how many photos are uploaded, prepared
 * (their job file is staged), generated (an outcome with pictures: succeeded or partial) and
 * failed (an outcome without), the rate of finished outcomes and the time left at that rate.
 * Pure: the clock is injected.
 *
 * @module
 */

export type Finish = 'succeeded' | 'partial' | 'failed';

export interface ProgressSnapshot {
  readonly total: number;
  readonly uploaded: number;
  /** Undefined when this batch cannot see its jobs being prepared (a deployed stack's staging bucket). */
  readonly prepared: number | undefined;
  /** Outcomes with pictures (succeeded or partial). */
  readonly generated: number;
  readonly failed: number;
  /** generated + failed. */
  readonly done: number;
  readonly elapsedMs: number;
  /** Finished outcomes per second since the first upload; undefined before the first. */
  readonly perSecond: number | undefined;
  /** Time left at that rate; undefined before the first outcome, 0 when all are done. */
  readonly etaMs: number | undefined;
}

export class Progress {
  private readonly uploadedKeys = new Set<string>();
  private readonly preparedKeys = new Set<string>();
  private readonly finished = new Map<string, Finish>();
  private readonly startedAt: number;
  private firstUploadAt: number | undefined;
  private lastFinishAt: number | undefined;

  constructor(
    readonly total: number,
    private readonly options: { readonly tracksPrepared?: boolean; readonly now?: () => number } = {},
  ) {
    this.startedAt = this.now();
  }

  private now(): number {
    return (this.options.now ?? performance.now.bind(performance))();
  }

  uploaded(key: string): void {
    this.firstUploadAt ??= this.now();
    this.uploadedKeys.add(key);
  }

  prepared(key: string): void {
    this.preparedKeys.add(key);
  }

  finish(key: string, how: Finish): void {
    if (this.finished.has(key)) return;
    this.finished.set(key, how);
    // A finished job was prepared (a rejected upload too: prepare wrote its job file).
    this.preparedKeys.add(key);
    this.lastFinishAt = this.now();
  }

  snapshot(): ProgressSnapshot {
    const now = this.now();
    let generated = 0;
    let failed = 0;
    for (const how of this.finished.values()) {
      if (how === 'failed') failed++;
      else generated++;
    }
    const done = generated + failed;
    const since = this.firstUploadAt ?? this.startedAt;
    const perSecond = done > 0 && this.lastFinishAt !== undefined && this.lastFinishAt > since ? done / ((this.lastFinishAt - since) / 1000) : undefined;
    const left = this.total - done;
    return {
      total: this.total,
      uploaded: this.uploadedKeys.size,
      prepared: (this.options.tracksPrepared ?? true) ? this.preparedKeys.size : undefined,
      generated,
      failed,
      done,
      elapsedMs: now - this.startedAt,
      perSecond,
      etaMs: left === 0 ? 0 : perSecond ? (left / perSecond) * 1000 : undefined,
    };
  }
}

/** `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`. */
export const formatDuration = (ms: number): string => {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const whole = Math.round(s);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
  return `${Math.floor(whole / 3600)} h ${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')} min`;
};

/** `0.8/s`, or `12/min` below one a second. */
export const formatRate = (perSecond: number): string => (perSecond >= 1 ? `${perSecond.toFixed(1)}/s` : `${(perSecond * 60).toFixed(perSecond * 60 >= 10 ? 0 : 1)}/min`);

/**
 * One line: `[#####-----] 7/12 done · uploaded 12 · prepared 9 · generated 6 · failed 1 · 0.8/s · ETA 6.2 s`.
 * The bar takes `barWidth` cells (0: none).
 */
export const formatProgress = (snap: ProgressSnapshot, barWidth = 20, unicode = true): string => {
  const parts: string[] = [];
  if (barWidth > 0) {
    const filled = snap.total === 0 ? barWidth : Math.round((snap.done / snap.total) * barWidth);
    parts.push(`[${(unicode ? '█' : '#').repeat(filled)}${(unicode ? '░' : '-').repeat(barWidth - filled)}]`);
  }
  parts.push(`${snap.done}/${snap.total} done`);
  const counts = [`uploaded ${snap.uploaded}`, ...(snap.prepared === undefined ? [] : [`prepared ${snap.prepared}`]), `generated ${snap.generated}`, `failed ${snap.failed}`];
  const tail = [snap.perSecond === undefined ? undefined : formatRate(snap.perSecond), snap.done === snap.total ? `in ${formatDuration(snap.elapsedMs)}` : snap.etaMs === undefined ? 'ETA …' : `ETA ${formatDuration(snap.etaMs)}`].filter(
    (x): x is string => x !== undefined,
  );
  return [parts.join(' '), ...counts, ...tail].join(' · ');
};
