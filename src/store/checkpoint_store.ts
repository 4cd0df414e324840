/**
 * The checkpoints a node holds, beside its block store and apart from it
 * (`block.store` and `genesis.json` stay exactly as the reference writes
 * them, and a reference node ignores files it does not know there):
 *
 * - `checkpoints.jsonl`: one canonical SigCheckpoint a line, appended and
 *   flushed one at a time, in rising block order. A torn last line (a crash
 *   mid-append) is cut off on open; a line that does not decode is skipped
 *   with a warning (the file only caches what was verified: the blocks are
 *   the truth).
 * - `checkpoint_state.jsonl`: the state at the newest checkpoint the node
 *   serves: its SigCheckpoint line, the SigBlock line of its block, then
 *   one line per state chunk (see `state_hash.ts`). Written atomically, so
 *   it is whole or absent.
 *
 * @module
 */
import { join } from "node:path";
import {
  decodeSigCheckpoint,
  encodeSigCheckpoint,
  type SigCheckpoint,
} from "../chain/checkpoint.ts";
import { fileLines } from "../util/file_lines.ts";
import { messageOf } from "../util/errors.ts";
import { appendFileDurably, writeFileAtomic } from "./atomic_write.ts";

/** The checkpoints file's name inside the block-store directory. */
export const CHECKPOINTS_FILE = "checkpoints.jsonl";
/** The checkpoint state file's name inside the block-store directory. */
export const CHECKPOINT_STATE_FILE = "checkpoint_state.jsonl";
/** The largest checkpoints file read (about 100,000 checkpoints). */
export const MAX_CHECKPOINTS_FILE_BYTES = 64 * 1024 * 1024;

const NL = 0x0a;
const utf8 = new TextEncoder();
const text = new TextDecoder();

/** Options of {@link CheckpointStore.open}. */
export interface CheckpointStoreOptions {
  /** Receives repair warnings; `console.warn` by default. */
  onWarning?: (message: string) => void;
}

/**
 * `checkpoints.jsonl` and `checkpoint_state.jsonl` in a block-store
 * directory, the checkpoints held in memory (one small line per
 * checkpoint interval).
 *
 * @example
 * ```ts
 * import { CheckpointStore } from "./checkpoint_store.ts";
 * const dir = await Deno.makeTempDir();
 * const store = await CheckpointStore.open(dir);
 * console.log(store.newest()); // undefined
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class CheckpointStore {
  /** The block-store directory. */
  readonly dir: string;
  /** The path of `checkpoints.jsonl`. */
  readonly path: string;
  /** The path of `checkpoint_state.jsonl`. */
  readonly statePath: string;
  readonly #byNumber = new Map<bigint, SigCheckpoint>();
  #newest: SigCheckpoint | undefined;
  #queue: Promise<void> = Promise.resolve();

  private constructor(dir: string) {
    this.dir = dir;
    this.path = join(dir, CHECKPOINTS_FILE);
    this.statePath = join(dir, CHECKPOINT_STATE_FILE);
  }

  /**
   * Opens the checkpoints of `dir` (creating nothing until the first
   * append), cutting off a torn last line and skipping undecodable ones,
   * each with a warning.
   *
   * @example
   * ```ts
   * import { CheckpointStore } from "./checkpoint_store.ts";
   * const dir = await Deno.makeTempDir();
   * await CheckpointStore.open(dir, { onWarning: console.error });
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  static async open(
    dir: string,
    options: CheckpointStoreOptions = {},
  ): Promise<CheckpointStore> {
    const warn = options.onWarning ?? ((m: string) => console.warn(m));
    const store = new CheckpointStore(dir);
    await store.#load(warn);
    await store.#removeStrays(warn);
    return store;
  }

  /** Every checkpoint held, in rising block order. */
  all(): SigCheckpoint[] {
    return [...this.#byNumber.values()].sort((a, b) =>
      a.number < b.number ? -1 : a.number > b.number ? 1 : 0
    );
  }

  /** The checkpoint at block `number`, if held. */
  get(number: bigint): SigCheckpoint | undefined {
    return this.#byNumber.get(number);
  }

  /** The checkpoint of the highest block held, if any. */
  newest(): SigCheckpoint | undefined {
    return this.#newest;
  }

  /**
   * Forgets the checkpoints held of another chain than genesis `genesis`
   * (a directory that once held another chain): they are never served nor
   * stand in the way of this chain's. Returns how many were forgotten; the
   * file keeps them (a later line for the same block wins on open).
   *
   * @example
   * ```ts
   * import { CheckpointStore } from "./checkpoint_store.ts";
   * const dir = await Deno.makeTempDir();
   * const store = await CheckpointStore.open(dir);
   * console.log(store.keepChain("0".repeat(64))); // 0
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  keepChain(genesis: string): number {
    let forgotten = 0;
    for (const [n, c] of this.#byNumber) {
      if (c.genesis === genesis) continue;
      this.#byNumber.delete(n);
      forgotten++;
    }
    if (this.#newest && this.#newest.genesis !== genesis) {
      this.#newest = undefined;
      for (const c of this.#byNumber.values()) {
        if (!this.#newest || c.number > this.#newest.number) this.#newest = c;
      }
    }
    return forgotten;
  }

  /**
   * Appends a checkpoint (flushed before it resolves). The same one again
   * does nothing; another one for a block already held is refused.
   */
  append(c: SigCheckpoint): Promise<void> {
    const line = encodeSigCheckpoint(c);
    return this.#serialise(async () => {
      const held = this.#byNumber.get(c.number);
      if (held !== undefined) {
        if (encodeSigCheckpoint(held) === line) return;
        throw new Error(
          `${this.path} already holds another checkpoint for block ${c.number}`,
        );
      }
      await appendFileDurably(this.path, utf8.encode(line + "\n"));
      this.#add(c);
    });
  }

  /**
   * Replaces the kept state with the state at checkpoint `c`: the bytes of
   * its block (a `block.store` line without the newline) and its chunks in
   * order (canonical text each), atomically. Written a piece at a time: a
   * state of a million accounts (55 MiB) is not copied whole first.
   */
  writeState(
    c: SigCheckpoint,
    block: Uint8Array,
    chunks: readonly string[],
  ): Promise<void> {
    function* pieces(): Generator<Uint8Array> {
      yield utf8.encode(encodeSigCheckpoint(c) + "\n");
      yield block;
      yield utf8.encode("\n");
      let group: string[] = [];
      let length = 0;
      for (const t of chunks) {
        group.push(t, "\n");
        length += t.length + 1;
        if (length >= 1024 * 1024) {
          yield utf8.encode(group.join(""));
          group = [];
          length = 0;
        }
      }
      if (group.length > 0) yield utf8.encode(group.join(""));
    }
    return this.#serialise(() =>
      writeFileAtomic(this.statePath, pieces(), { mode: 0o600 })
    );
  }

  /**
   * The state kept for checkpoint `c`: its block's bytes and its chunks
   * (each line's bytes, read a piece at a time; leaving the loop early
   * closes the file), or undefined when the kept state is another
   * checkpoint's or none.
   */
  async readState(
    c: SigCheckpoint,
    signal?: AbortSignal,
  ): Promise<
    { block: Uint8Array; chunks: AsyncIterable<Uint8Array> } | undefined
  > {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.statePath, { read: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
    const lines = fileLines(file, { signal });
    const first = await lines.next();
    if (
      first.done || text.decode(first.value) !== encodeSigCheckpoint(c)
    ) {
      await lines.return(undefined);
      return undefined;
    }
    const block = await lines.next();
    if (block.done) return undefined;
    return {
      block: block.value,
      chunks: { [Symbol.asyncIterator]: () => lines },
    };
  }

  #add(c: SigCheckpoint): void {
    this.#byNumber.set(c.number, c);
    if (!this.#newest || c.number > this.#newest.number) this.#newest = c;
  }

  async #load(warn: (message: string) => void): Promise<void> {
    let bytes: Uint8Array;
    try {
      const size = (await Deno.stat(this.path)).size;
      if (size > MAX_CHECKPOINTS_FILE_BYTES) {
        warn(
          `${CHECKPOINTS_FILE}: ${size} bytes, more than ${MAX_CHECKPOINTS_FILE_BYTES}: not read`,
        );
        return;
      }
      bytes = await Deno.readFile(this.path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    const end = bytes.lastIndexOf(NL) + 1;
    if (end < bytes.length) {
      // A crash mid-append: the torn line never was a checkpoint.
      using file = await Deno.open(this.path, { write: true });
      await file.truncate(end);
      await file.syncData();
      warn(
        `${CHECKPOINTS_FILE}: cut off a torn last line (${
          bytes.length - end
        } bytes) left by an interrupted write`,
      );
    }
    let start = 0;
    let lineNo = 1;
    while (start < end) {
      const nl = bytes.indexOf(NL, start);
      try {
        this.#add(decodeSigCheckpoint(bytes.subarray(start, nl)));
      } catch (e) {
        warn(`${CHECKPOINTS_FILE} line ${lineNo} skipped: ${messageOf(e)}`);
      }
      start = nl + 1;
      lineNo++;
    }
  }

  // A crash while the state was written leaves its temporary file (as
  // large as the state): each start removes those of the state file.
  async #removeStrays(warn: (message: string) => void): Promise<void> {
    const prefix = `.${CHECKPOINT_STATE_FILE}.tmp-`;
    try {
      for await (const entry of Deno.readDir(this.dir)) {
        if (!entry.isFile || !entry.name.startsWith(prefix)) continue;
        await Deno.remove(join(this.dir, entry.name));
        warn(`removed ${entry.name}, left by an interrupted write`);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  #serialise(task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => {});
    return run;
  }
}
