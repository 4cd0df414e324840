/**
 * Progress of a long replay or sync on stderr: blocks done, blocks/s, tx/s
 * and, when the amount of work is known, the share done and an ETA. One
 * self-updating line on a terminal; a plain line every few seconds
 * otherwise. Short work prints nothing.
 *
 * @module
 */
import { encodeUtf8 } from "../../util/utf8.ts";

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** What is under way, such as `replay` or `sync from 127.0.0.1:1122`. */
  label: string;
  /** The bytes to go through, when known (a replay knows its file size). */
  totalBytes?: number;
  /**
   * Where lines go. With `terminal`, it receives the line to redraw
   * (starting with `\r`, without a newline); otherwise whole lines.
   * Standard error by default.
   */
  write?: (text: string) => void;
  /** Redraw one line in place; by default, when stderr is a terminal. */
  terminal?: boolean;
  /** Between two plain lines, in ms; 5,000 by default (250 on a terminal). */
  intervalMs?: number;
  /** The clock, in ms; `performance.now` by default. */
  now?: () => number;
}

function defaultWrite(terminal: boolean): (text: string) => void {
  return terminal
    ? (text) => Deno.stderr.writeSync(encodeUtf8(text))
    : (text) => console.error(text);
}

function isTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

function duration(s: number): string {
  if (s < 60) return `${Math.ceil(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/**
 * Counts blocks as they are done and reports the rate now and then.
 *
 * @example
 * ```ts
 * import { Progress } from "./progress.ts";
 * const progress = new Progress({ label: "replay", totalBytes: 1000 });
 * progress.advance({ blocks: 1, txs: 10, bytes: 500 });
 * progress.done();
 * ```
 */
export class Progress {
  readonly #label: string;
  readonly #total: number | undefined;
  readonly #terminal: boolean;
  readonly #write: (text: string) => void;
  readonly #interval: number;
  readonly #now: () => number;
  readonly #start: number;
  #last: number;
  #blocks = 0;
  #txs = 0;
  #bytes = 0;
  #shown = false;

  /** Starts counting now. */
  constructor(options: ProgressOptions) {
    this.#label = options.label;
    this.#total = options.totalBytes;
    this.#terminal = options.terminal ?? isTerminal();
    this.#write = options.write ?? defaultWrite(this.#terminal);
    this.#interval = options.intervalMs ?? (this.#terminal ? 250 : 5000);
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
    // The first report waits a whole plain interval (a second on a
    // terminal), so quick work stays quiet.
    this.#last = this.#start + (this.#terminal ? 1000 - this.#interval : 0);
  }

  /** Blocks done so far. */
  get blocks(): number {
    return this.#blocks;
  }

  /** Counts work done; reports when a report is due. */
  advance(done: { blocks: number; txs: number; bytes?: number }): void {
    this.#blocks += done.blocks;
    this.#txs += done.txs;
    this.#bytes += done.bytes ?? 0;
    const now = this.#now();
    if (now - this.#last < this.#interval) return;
    this.#last = now;
    this.#report(now, false);
  }

  /** Ends the report: a final line, if anything was reported. */
  done(): void {
    if (this.#shown) this.#report(this.#now(), true);
  }

  /** The report line as of `now`. */
  line(now: number = this.#now()): string {
    const s = Math.max((now - this.#start) / 1000, 1e-3);
    const parts = [
      `${this.#label}: ${this.#blocks} blocks`,
      `${Math.round(this.#blocks / s)} blocks/s`,
      `${Math.round(this.#txs / s)} tx/s`,
    ];
    const total = this.#total;
    if (total !== undefined && total > 0) {
      const share = Math.min(1, this.#bytes / total);
      parts.push(`${Math.floor(share * 100)}%`);
      if (this.#bytes > 0 && share < 1) {
        const left = (total - this.#bytes) / (this.#bytes / s);
        parts.push(`ETA ${duration(left)}`);
      }
    }
    return parts.join(", ");
  }

  #report(now: number, final: boolean): void {
    this.#shown = true;
    const text = this.line(now);
    if (this.#terminal) {
      this.#write(`\r${text}\x1b[K${final ? "\n" : ""}`);
    } else {
      this.#write(final ? `${text}, done` : text);
    }
  }
}
