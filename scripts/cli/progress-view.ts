/**
 * Shows a {@link Progress} on a terminal, or in a log.
 *
 * - On a TTY: one line, redrawn in place (`\r` and erase-line) at most every `redrawMs`, cut
 *   to the terminal's width; {@link ProgressView.log} prints a message above it.
 * - Otherwise (CI, a pipe, a file): a plain line whenever the counts changed, at most every
 *   `intervalMs`, and always the last one; no control characters.
 *
 * Written without a progress-bar library: the line is one pure function (progress.ts) and
 * the two behaviours are these thirty lines, tested with a fake stream; cli-progress, the
 * usual choice, redraws but has no plain periodic mode for logs.
 *
 * @module
 */
import { formatProgress, type Progress } from './progress';

export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(chunk: string): unknown;
}

export interface ProgressViewOptions {
  /** On a TTY, the shortest time between two redraws. @default 100 */
  readonly redrawMs?: number;
  /** Elsewhere, the shortest time between two lines. @default 5000 */
  readonly intervalMs?: number;
  readonly now?: () => number;
}

export class ProgressView {
  private lastDraw = -Infinity;
  private lastPlain = '';
  private drawn = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly tty: boolean;

  constructor(
    private readonly progress: Progress,
    private readonly stream: ProgressStream,
    private readonly options: ProgressViewOptions = {},
  ) {
    this.tty = stream.isTTY === true;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private line(): string {
    const width = this.stream.columns ?? 100;
    const text = formatProgress(this.progress.snapshot(), this.tty ? Math.max(0, Math.min(20, width - 90)) : 0, this.tty);
    return this.tty && text.length > width - 1 ? `${text.slice(0, width - 2)}…` : text;
  }

  /** Redraws (TTY) or prints a line (elsewhere) if it is time; call after every change. */
  update(force = false): void {
    const now = this.now();
    if (this.tty) {
      if (!force && now - this.lastDraw < (this.options.redrawMs ?? 100)) return;
      this.stream.write(`\r\x1b[2K${this.line()}`);
      this.drawn = true;
    } else {
      if (!force && now - this.lastDraw < (this.options.intervalMs ?? 5000)) return;
      const text = this.line();
      if (text === this.lastPlain) return;
      this.stream.write(`${text}\n`);
      this.lastPlain = text;
    }
    this.lastDraw = now;
  }

  /** Prints `message` on a line of its own (above the bar on a TTY). */
  log(message: string): void {
    if (this.tty && this.drawn) this.stream.write('\r\x1b[2K');
    this.stream.write(`${message}\n`);
    if (this.tty && this.drawn) this.stream.write(this.line());
  }

  /** Keeps the line moving (the rate and ETA change without events). */
  start(tickMs = 1000): this {
    this.timer = setInterval(() => this.update(), tickMs);
    this.timer.unref();
    this.update(true);
    return this;
  }

  /** The final line, and a new line after it on a TTY. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.update(true);
    if (this.tty) this.stream.write('\n');
  }
}
