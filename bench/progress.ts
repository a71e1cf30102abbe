/**
 * The progress display on stderr: one line rewritten in place on a terminal (plain lines in a
 * log or CI), with the step count and the time left estimated from the steps done so far.
 */
export interface ProgressSink {
  write(text: string): void;
  isTTY?: boolean;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export class Progress {
  private done = 0;
  private readonly started = Date.now();
  private lastLen = 0;

  constructor(
    public total: number,
    private readonly out: ProgressSink = process.stderr,
  ) {}

  setTotal(total: number): void {
    this.total = total;
  }

  /** Something is starting (a setup step, a run): shown, not counted. */
  status(text: string): void {
    const elapsed = (Date.now() - this.started) / 1000;
    const left = this.done > 0 ? (elapsed / this.done) * (this.total - this.done) : NaN;
    const line = `[${this.done}/${this.total} ${formatDuration(elapsed)} elapsed, ~${formatDuration(left)} left] ${text}`;
    if (this.out.isTTY) {
      const pad = Math.max(0, this.lastLen - line.length);
      this.out.write(`\r${line}${' '.repeat(pad)}`);
      this.lastLen = line.length;
    } else this.out.write(line + '\n');
  }

  /** One counted step finished, with its result for the log. */
  step(text: string): void {
    this.done++;
    this.status(text);
  }

  /** A line that stays (a warning, a scenario's summary). */
  note(text: string): void {
    if (this.out.isTTY && this.lastLen) this.out.write('\n');
    this.lastLen = 0;
    this.out.write(text + '\n');
  }

  finish(): void {
    if (this.out.isTTY && this.lastLen) this.out.write('\n');
    this.lastLen = 0;
  }
}
