/**
 * The pending pool on disk (`pending.jsonl` beside `block.store`), so a node
 * that restarts, even after `kill -9`, still holds every transaction it
 * answered with a hash. An append-only journal, rewritten once it holds
 * {@link PENDING_COMPACT_FACTOR} times the pool; `docs/operating.md` gives
 * its format. The file is only a hint: a reader verifies every transaction
 * again against the confirmed state.
 *
 * @module
 */
import { join } from "node:path";
import { encodeString, encodeU64, parseObject } from "../chain/json.ts";
import { decodeSigTx, type SigTx, txBytes } from "../chain/tx.ts";
import { appendFileDurably, syncDir, writeFileAtomic } from "./atomic_write.ts";
import { messageOf } from "../util/errors.ts";
import { decodeUtf8, encodeUtf8 } from "../util/utf8.ts";
import { joinLines } from "../util/bytes.ts";

/** The pending pool's file name inside the block-store directory. */
export const PENDING_FILE = "pending.jsonl";
/**
 * A journal of fewer lines than this is never rewritten: rewriting a small
 * pool every few appends would cost more than the lines it saves.
 */
export const PENDING_COMPACT_MIN_LINES = 1024;
/**
 * The journal is rewritten once it would hold this many times the lines of
 * the pool it last wrote: each transaction is written about three times at
 * most, and the file stays within about three pools.
 */
export const PENDING_COMPACT_FACTOR = 2;
/**
 * The largest file read back (64 MiB): three pools of 11,024 transactions
 * (10,000 pending and 1,024 queued) of a few hundred bytes each are about
 * 10 MB, so a larger file is not one this store wrote and is not read into
 * memory.
 */
export const MAX_PENDING_FILE_BYTES = 64 * 1024 * 1024;

const VERSION = 1n;

/** What {@link PendingStore.read} found. */
export type PendingRead =
  | {
    /** The transactions, in the order they were written (not verified). */
    txs: SigTx[];
    /** Lines that did not decode (a damaged line, a torn last line). */
    unreadable: number;
  }
  | { missing: true }
  | { unusable: string };

/** Options of {@link PendingStore}. */
export interface PendingStoreOptions {
  /**
   * The transactions to keep now (the pending pool, then the queued ones),
   * oldest first: what a rewrite writes.
   */
  current: () => readonly SigTx[];
  /** Where a failed write is reported (once until one succeeds). */
  onWarning?: (message: string) => void;
}

/**
 * The journal of a node's pending pool (see the module documentation).
 * {@link PendingStore.record} never waits; {@link PendingStore.close}
 * writes the pool as it is and waits for every write.
 *
 * @example
 * ```ts
 * import { PendingStore } from "./pending_store.ts";
 * import type { SigTx } from "../chain/tx.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const pool: SigTx[] = [];
 * const store = new PendingStore(dir, "0".repeat(64), { current: () => pool });
 * console.log(await store.read()); // { missing: true }
 * await store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class PendingStore {
  /** The path of `pending.jsonl`. */
  readonly path: string;
  readonly #dir: string;
  readonly #genesisHash: string;
  readonly #current: () => readonly SigTx[];
  readonly #onWarning: (message: string) => void;
  /** Encoded transactions waiting for the next append. */
  #queue: Uint8Array[] = [];
  /** The write queued on `#serial` that has not started yet, if any. */
  #scheduled: Promise<void> | undefined;
  #serial: Promise<void> = Promise.resolve();
  /**
   * Whether the next write rewrites the file from `current`: at first
   * (the file on disk was written by another run) and after a failure.
   */
  #rewrite = true;
  /** Transaction lines in the file. */
  #lines = 0;
  /** Transaction lines written by the last rewrite. */
  #baseline = 0;
  #closing: Promise<void> | undefined;
  #failing = false;

  /**
   * A store for the chain `genesisHash` in the block-store directory `dir`
   * (which exists). Nothing is read or written yet.
   *
   * @example
   * ```ts
   * import { PendingStore } from "./pending_store.ts";
   *
   * const store = new PendingStore("/tmp/blocks", "0".repeat(64), {
   *   current: () => [],
   * });
   * console.log(store.path); // /tmp/blocks/pending.jsonl
   * ```
   */
  constructor(dir: string, genesisHash: string, options: PendingStoreOptions) {
    this.#dir = dir;
    this.path = join(dir, PENDING_FILE);
    this.#genesisHash = genesisHash;
    this.#current = options.current;
    this.#onWarning = options.onWarning ?? (() => {});
  }

  /**
   * Transaction lines in the file now (0 before the first write).
   *
   * @example
   * ```ts
   * import { PendingStore } from "./pending_store.ts";
   *
   * const store = new PendingStore("/tmp/blocks", "0".repeat(64), {
   *   current: () => [],
   * });
   * console.log(store.lines); // 0
   * ```
   */
  get lines(): number {
    return this.#lines;
  }

  /**
   * Reads the file a previous run left: its transactions in order (not
   * verified: the caller applies each to its state), `missing` when there
   * is none, `unusable` with a one-line reason when it cannot be used
   * (another chain, another format, too large). Never throws.
   *
   * @example
   * ```ts
   * import { PendingStore } from "./pending_store.ts";
   *
   * const dir = await Deno.makeTempDir();
   * const store = new PendingStore(dir, "0".repeat(64), { current: () => [] });
   * const read = await store.read();
   * if ("txs" in read) console.log(read.txs.length, read.unreadable);
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async read(): Promise<PendingRead> {
    let data: Uint8Array;
    try {
      const size = (await Deno.stat(this.path)).size;
      if (size > MAX_PENDING_FILE_BYTES) {
        return {
          unusable:
            `it is too large (${size} bytes, at most ${MAX_PENDING_FILE_BYTES})`,
        };
      }
      data = await Deno.readFile(this.path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return { missing: true };
      return { unusable: `cannot read it: ${messageOf(e)}` };
    }
    if (data.length > MAX_PENDING_FILE_BYTES) {
      return { unusable: "it grew too large while it was read" };
    }
    const lines = decodeUtf8(data).split("\n");
    try {
      const f = parseObject(lines[0], `${PENDING_FILE} line 1`);
      if (f.u64("version") !== VERSION) {
        return { unusable: `unknown version ${f.u64("version")}` };
      }
      if (f.hash("genesis") !== this.#genesisHash) {
        return { unusable: "it belongs to another chain" };
      }
    } catch (e) {
      return {
        unusable: `it has no valid first line: ${messageOf(e)}`,
      };
    }
    const txs: SigTx[] = [];
    let unreadable = 0;
    for (let i = 1; i < lines.length; i++) {
      if (lines[i] === "") continue;
      try {
        txs.push(decodeSigTx(lines[i], `${PENDING_FILE} line ${i + 1}`));
      } catch {
        unreadable++;
      }
    }
    return { txs, unreadable };
  }

  /**
   * Keeps `tx` (just accepted): appended, with every transaction recorded
   * meanwhile, as soon as the append under way, if any, is done. Resolves
   * once it is on disk (flushed), or once its write failed and was
   * reported (the next write then rewrites the whole pool); never rejects.
   * Ignored once closing.
   *
   * @example
   * ```ts
   * import { PendingStore } from "./pending_store.ts";
   * import type { SigTx } from "../chain/tx.ts";
   *
   * async function keep(store: PendingStore, tx: SigTx): Promise<void> {
   *   await store.record(tx);
   * }
   * ```
   */
  record(tx: SigTx): Promise<void> {
    if (this.#closing !== undefined) return Promise.resolve();
    this.#queue.push(txBytes(tx));
    // Joins the write that has not started yet: one append for all.
    return this.#scheduled ??= this.#enqueue(() => {
      this.#scheduled = undefined;
      return this.#write();
    });
  }

  /**
   * Rewrites the file now with `current()` (removes it when that is
   * empty), after the writes under way. Resolves when done; a failure is
   * reported, not thrown.
   *
   * @example
   * ```ts
   * import { PendingStore } from "./pending_store.ts";
   *
   * const dir = await Deno.makeTempDir();
   * const store = new PendingStore(dir, "0".repeat(64), { current: () => [] });
   * await store.compact(); // no pool: no file
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  compact(): Promise<void> {
    return this.#enqueue(() => this.#rewriteNow());
  }

  /**
   * Resolves when every transaction recorded so far is written (or its
   * write failed and was reported).
   *
   * @example
   * ```ts
   * import { PendingStore } from "./pending_store.ts";
   *
   * const dir = await Deno.makeTempDir();
   * const store = new PendingStore(dir, "0".repeat(64), { current: () => [] });
   * await store.flush();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  flush(): Promise<void> {
    return this.#serial;
  }

  /**
   * Writes the pool as it is now (a clean stop leaves exactly the pool, or
   * no file when it is empty) and waits for every write; later records are
   * ignored. Calling it again returns the same promise.
   *
   * @example
   * ```ts
   * import { PendingStore } from "./pending_store.ts";
   *
   * const dir = await Deno.makeTempDir();
   * const store = new PendingStore(dir, "0".repeat(64), { current: () => [] });
   * await store.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  close(): Promise<void> {
    return this.#closing ??= this.compact();
  }

  #enqueue(job: () => Promise<void>): Promise<void> {
    const run = this.#serial.then(job);
    this.#serial = run.catch(() => {});
    return this.#serial;
  }

  /** Appends what is queued, or rewrites the file when it is due. */
  async #write(): Promise<void> {
    const bound = Math.max(
      PENDING_COMPACT_MIN_LINES,
      PENDING_COMPACT_FACTOR * this.#baseline,
    );
    if (this.#rewrite || this.#lines + this.#queue.length > bound) {
      return await this.#rewriteNow();
    }
    const lines = this.#queue;
    this.#queue = [];
    if (lines.length === 0) return;
    try {
      await this.#append(lines);
      this.#lines += lines.length;
      this.#succeeded();
    } catch (e) {
      // The pool is still in memory: the next write rewrites all of it.
      this.#rewrite = true;
      this.#failed(e);
    }
  }

  /** Appends encoded transactions, with the first line if the file is new. */
  async #append(lines: Uint8Array[]): Promise<void> {
    await appendFileDurably(
      this.path,
      (size) => joinLines(size === 0 ? [this.#header(), ...lines] : lines),
    );
  }

  /** Writes `current()` over the file atomically, or removes the file. */
  async #rewriteNow(): Promise<void> {
    // What was queued is in `current()` now, or was confirmed or dropped.
    this.#queue = [];
    const txs = this.#current();
    try {
      if (txs.length === 0) {
        await Deno.remove(this.path).catch((e) => {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        });
        await syncDir(this.#dir);
      } else {
        const body = joinLines([this.#header(), ...txs.map(txBytes)]);
        await writeFileAtomic(this.path, body, { mode: 0o600 });
      }
      this.#lines = this.#baseline = txs.length;
      this.#rewrite = false;
      this.#succeeded();
    } catch (e) {
      this.#rewrite = true;
      this.#failed(e);
    }
  }

  #header(): Uint8Array {
    return encodeUtf8(
      `{"version":${encodeU64(VERSION)},"genesis":${
        encodeString(this.#genesisHash)
      }}`,
    );
  }

  #succeeded(): void {
    this.#failing = false;
  }

  #failed(e: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    try {
      this.#onWarning(
        `warning: cannot write ${this.path}: ${
          messageOf(e)
        }; the pending pool is kept in memory and written again with the next transaction`,
      );
    } catch {
      // a failing logger must not stop the store
    }
  }
}
