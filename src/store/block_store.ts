/**
 * The block store (`docs/FORMAT.md`, section 6): `genesis.json` and
 * `block.store` (one canonical JSON SigBlock per line) in one directory.
 * Appends are durable and serialised, reads stream in constant memory, and
 * opening repairs only what an interrupted append leaves; any other bad line
 * is reported with its line number.
 *
 * @module
 */
import { join } from "node:path";
import {
  blockBytes,
  blockHash,
  decodeSigBlock,
  type SigBlock,
} from "../chain/block.ts";
import {
  decodeSigGenesis,
  encodeSigGenesis,
  genesisHash,
  type SigGenesis,
} from "../chain/genesis.ts";
import { appendFileDurably, writeFileAtomic } from "./atomic_write.ts";
import { writeAll } from "../util/write_all.ts";
import { fileLines } from "../util/file_lines.ts";
import { encodeUtf8 } from "../util/utf8.ts";
import { equalBytes, joinLines } from "../util/bytes.ts";
import { messageOf } from "../util/errors.ts";

/** A block-store error a user can fix: a damaged file, a genesis clash. */
export class BlockStoreError extends Error {
  /** Creates a block-store error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "BlockStoreError";
  }
}

/** Options for {@link BlockStore.open}. */
export interface BlockStoreOptions {
  /** Receives repair warnings; default `console.warn`. */
  onWarning?: (message: string) => void;
}

/** Options for reading blocks from a {@link BlockStore}. */
export interface ReadBlocksOptions {
  /** The first block number wanted; 0 and 1 both mean from block 1. */
  from?: bigint;
  /** Stops the iteration (it throws the signal's reason) and closes the file. */
  signal?: AbortSignal;
  /** Bytes read at a time; default 64 KiB. */
  chunkSize?: number;
}

/**
 * Options for reading raw lines ({@link BlockStore.blockLines}). The byte
 * offset is for raw lines only: {@link BlockStore.blocks} checks each block's
 * number against its line number, which an offset would shift.
 */
export interface ReadLinesOptions extends ReadBlocksOptions {
  /**
   * Start reading at this byte offset of `block.store`, the start of a line
   * (a snapshot knows it); `from` then counts lines from there. Default 0.
   */
  offset?: number;
}

/** The genesis file's name inside the store directory. */
export const GENESIS_FILE = "genesis.json";
/** The block file's name inside the store directory. */
export const BLOCKS_FILE = "block.store";

const NL = 0x0a;
const DEFAULT_CHUNK = 64 * 1024;

/**
 * `genesis.json` and `block.store` in a directory (mode 0700, files 0600).
 *
 * @example
 * ```ts
 * import { BlockStore } from "./block_store.ts";
 * const dir = await Deno.makeTempDir();
 * const store = await BlockStore.open(dir);
 * for await (const block of store.blocks()) console.log(block.number);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class BlockStore {
  /** The store directory. */
  readonly dir: string;
  /** The path of `genesis.json`. */
  readonly genesisPath: string;
  /** The path of `block.store`. */
  readonly blocksPath: string;
  #queue: Promise<void> = Promise.resolve();

  private constructor(dir: string) {
    this.dir = dir;
    this.genesisPath = join(dir, GENESIS_FILE);
    this.blocksPath = join(dir, BLOCKS_FILE);
  }

  /**
   * Opens the store in `dir`, creating the directory (mode 0700) when
   * missing, and repairs the end of `block.store` (reading only its tail),
   * reporting each repair through `onWarning`: a torn or unparsable last
   * line is cut off; a last line that is the whole next block but lacks its
   * `\n` is kept and the `\n` added. Throws a {@link BlockStoreError},
   * writing nothing, when such a whole block does not follow the line
   * before it (the next number on the right parent).
   *
   * @example
   * ```ts
   * import { BlockStore } from "./block_store.ts";
   * const dir = await Deno.makeTempDir();
   * const store = await BlockStore.open(dir, { onWarning: console.error });
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  static async open(
    dir: string,
    options: BlockStoreOptions = {},
  ): Promise<BlockStore> {
    const warn = options.onWarning ?? ((m: string) => console.warn(m));
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const store = new BlockStore(dir);
    await store.#repairTail(warn);
    return store;
  }

  /**
   * Writes `genesis.json` atomically (canonical JSON, no trailing newline,
   * mode 0600). Writing the same genesis again does nothing; a different one
   * is refused.
   *
   * @example
   * ```ts
   * import { Account } from "../chain/account.ts";
   * import { newGenesis } from "../chain/genesis.ts";
   * import { BlockStore } from "./block_store.ts";
   * const dir = await Deno.makeTempDir();
   * const store = await BlockStore.open(dir);
   * const auth = Account.create();
   * await store.writeGenesis(
   *   auth.signGenesis(newGenesis("blockchain", { authority: auth.address, balances: [[auth.address, 1000n]] })),
   * );
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  writeGenesis(genesis: SigGenesis): Promise<void> {
    const bytes = encodeUtf8(encodeSigGenesis(genesis));
    return this.#serialise(async () => {
      const old = await this.readGenesisBytes();
      if (old !== undefined) {
        if (equalBytes(old, bytes)) return;
        throw new BlockStoreError(
          `${this.genesisPath} already holds a different genesis`,
        );
      }
      await writeFileAtomic(this.genesisPath, bytes, { mode: 0o600 });
    });
  }

  /**
   * The bytes of `genesis.json` as stored, or `undefined` when absent.
   *
   * @example
   * ```ts
   * import { BlockStore } from "./block_store.ts";
   * const dir = await Deno.makeTempDir();
   * const store = await BlockStore.open(dir);
   * await store.readGenesisBytes(); // undefined
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async readGenesisBytes(): Promise<Uint8Array | undefined> {
    try {
      return await Deno.readFile(this.genesisPath);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  /**
   * The stored genesis, decoded (not verified), or `undefined` when absent.
   * Throws a {@link BlockStoreError} naming the file when it is malformed.
   *
   * @example
   * ```ts
   * import { BlockStore } from "./block_store.ts";
   * const dir = await Deno.makeTempDir();
   * const store = await BlockStore.open(dir);
   * await store.readGenesis(); // undefined
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async readGenesis(): Promise<SigGenesis | undefined> {
    const bytes = await this.readGenesisBytes();
    if (bytes === undefined) return undefined;
    try {
      return decodeSigGenesis(bytes);
    } catch (e) {
      throw new BlockStoreError(`${this.genesisPath}: ${messageOf(e)}`);
    }
  }

  /**
   * Appends `block` as one line of `block.store` and flushes it to disk
   * before resolving. Appends are serialised, so lines never interleave. The
   * caller checks the block follows the last one; this only stores it. If
   * the write fails, the file is cut back to its previous length.
   *
   * @example
   * ```ts
   * import type { SigBlock } from "../chain/block.ts";
   * import { BlockStore } from "./block_store.ts";
   * async function save(store: BlockStore, block: SigBlock): Promise<void> {
   *   await store.appendBlock(block);
   * }
   * ```
   */
  appendBlock(block: SigBlock): Promise<void> {
    return this.appendLines([blockBytes(block)]);
  }

  /**
   * Appends blocks already encoded (canonical JSON, one block each, without
   * the `\n`) in one write and one flush: a group commit. All or nothing: if
   * the write fails, the file is cut back to its previous length; if the
   * process dies part-way, opening the store cuts off the torn last line.
   *
   * @example
   * ```ts
   * import { blockBytes, type SigBlock } from "../chain/block.ts";
   * import { BlockStore } from "./block_store.ts";
   * async function save(store: BlockStore, blocks: SigBlock[]): Promise<void> {
   *   await store.appendLines(blocks.map(blockBytes));
   * }
   * ```
   */
  appendLines(lines: readonly Uint8Array[]): Promise<void> {
    const line = joinLines(lines);
    return this.#serialise(() => appendFileDurably(this.blocksPath, line));
  }

  /**
   * Streams the stored blocks in order, from block `from` on. Throws a
   * {@link BlockStoreError} naming the line of a line that does not decode or
   * holds the wrong block number. An incomplete last line (an append in
   * progress) is not yet a block and is left out. Leaving the loop early
   * (`break`, an exception, an abort) closes the file.
   *
   * @example
   * ```ts
   * import { BlockStore } from "./block_store.ts";
   * const dir = await Deno.makeTempDir();
   * const store = await BlockStore.open(dir);
   * for await (const b of store.blocks({ from: 10n })) console.log(b.number);
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async *blocks(
    options: ReadBlocksOptions = {},
  ): AsyncIterableIterator<SigBlock> {
    const { from, signal, chunkSize } = options;
    let lineNo = lineOfBlock(from);
    // Never an offset (see ReadLinesOptions), whatever object was passed.
    for await (const line of this.blockLines({ from, signal, chunkSize })) {
      let block: SigBlock;
      try {
        block = decodeSigBlock(line);
      } catch (e) {
        throw new BlockStoreError(
          `${this.blocksPath} line ${lineNo}: ${messageOf(e)}`,
        );
      }
      if (block.number !== BigInt(lineNo)) {
        throw new BlockStoreError(
          `${this.blocksPath} line ${lineNo}: holds block ${block.number}, ` +
            `expected block ${lineNo}`,
        );
      }
      yield block;
      lineNo++;
    }
  }

  /**
   * Streams the raw lines of `block.store` (without their `\n`), skipping by
   * line count, without parsing, to block `from` (line `from`). Each yielded
   * array is a fresh copy. Leaving the loop early closes the file.
   *
   * @example
   * ```ts
   * import { BlockStore } from "./block_store.ts";
   * const dir = await Deno.makeTempDir();
   * const store = await BlockStore.open(dir);
   * for await (const line of store.blockLines({ from: 2n })) {
   *   console.log(line.length);
   * }
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  async *blockLines(
    options: ReadLinesOptions = {},
  ): AsyncIterableIterator<Uint8Array> {
    const { signal } = options;
    signal?.throwIfAborted();
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.blocksPath, { read: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    try {
      if (options.offset) {
        await file.seek(options.offset, Deno.SeekMode.Start);
      }
    } catch (e) {
      file.close();
      throw e;
    }
    yield* fileLines(file, {
      signal,
      chunkSize,
      skip: lineOfBlock(options.from) - 1,
    });
  }

  /**
   * The line of `block.store` that ends (with its `\n`) exactly at byte
   * `length`, without its newline; or a one-line reason why there is none
   * (the file is missing or shorter, or no line ends there). Reads only
   * that line, from the end.
   *
   * @example
   * ```ts
   * import { BlockStore } from "./block_store.ts";
   * const dir = await Deno.makeTempDir();
   * const store = await BlockStore.open(dir);
   * console.log(await store.lineEndingAt(10)); // "block.store is missing"
   * ```
   */
  async lineEndingAt(length: number): Promise<Uint8Array | string> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.blocksPath, { read: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return "block.store is missing";
      throw e;
    }
    try {
      const size = (await file.stat()).size;
      if (size < length) {
        return `block.store is shorter (${size} bytes) than the snapshot says (${length})`;
      }
      if (length < 1 || (await readAt(file, length - 1, 1))[0] !== NL) {
        return "no block ends where the snapshot says";
      }
      return (await lineBefore(file, length)).bytes;
    } finally {
      file.close();
    }
  }

  /**
   * The length of `block.store` in bytes, 0 when it does not exist yet.
   *
   * @example
   * ```ts
   * import { BlockStore } from "./block_store.ts";
   * const store = await BlockStore.open(await Deno.makeTempDir());
   * console.log(await store.blocksSize()); // 0
   * ```
   */
  async blocksSize(): Promise<number> {
    try {
      return (await Deno.stat(this.blocksPath)).size;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return 0;
      throw e;
    }
  }

  /** Runs `task` after every earlier write has settled. */
  #serialise(task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Repairs the end of `block.store` after a crash, reading only its tail.
   *
   * A last line without its `\n` is either a torn write (it does not decode
   * as a block: cut off) or a whole block whose newline was lost (kept, the
   * newline added and flushed), because cutting a block that peers may
   * already hold would fork the chain at the next block. Such a block must
   * continue the line before it (the next number, the parent's hash); a
   * whole block that does not is no torn write but a damaged file, so it is
   * an error and nothing is written. Only the structure is checked here;
   * the replay verifies the signature and the transactions, as for every
   * other stored block. A last line with its `\n` that does not decode is
   * cut off too.
   */
  async #repairTail(warn: (message: string) => void): Promise<void> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.blocksPath, { read: true, write: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    try {
      const size = (await file.stat()).size;
      if (size === 0) return;
      const last = await readAt(file, size - 1, 1);
      if (last[0] !== NL) {
        const keep = (await lastNewline(file, size)) + 1;
        const line = await readAt(file, keep, size - keep);
        let block: SigBlock;
        try {
          block = decodeSigBlock(line);
        } catch {
          await file.truncate(keep);
          await file.syncData();
          warn(
            `${BLOCKS_FILE}: cut off a torn last line (${size - keep} bytes) ` +
              "left by an interrupted write",
          );
          return;
        }
        await this.#checkFollows(file, keep, block);
        await file.seek(size, Deno.SeekMode.Start);
        await writeAll(file, new Uint8Array([NL]));
        await file.syncData();
        warn(
          `${BLOCKS_FILE}: the last line, block ${block.number}, was whole but ` +
            "lacked its newline (an interrupted write): kept it and added the newline",
        );
        return;
      }
      const { start: keep, bytes: line } = await lineBefore(file, size);
      try {
        decodeSigBlock(line);
      } catch (e) {
        await file.truncate(keep);
        await file.syncData();
        warn(
          `${BLOCKS_FILE}: cut off an unparsable last line ` +
            `(${size - keep} bytes): ${messageOf(e)}`,
        );
      }
    } finally {
      file.close();
    }
  }

  /**
   * Throws a {@link BlockStoreError} unless `block`, the unterminated last
   * line starting at offset `start`, is the block after the line before it
   * (or block 1 on the stored genesis, when there is one).
   */
  async #checkFollows(
    file: Deno.FsFile,
    start: number,
    block: SigBlock,
  ): Promise<void> {
    const refuse = (why: string): never => {
      throw new BlockStoreError(
        `${this.blocksPath}: the last line holds block ${block.number} ` +
          `without its final newline, but ${why}; it is not a torn write, ` +
          "so it was left as it is: fix or remove it",
      );
    };
    let prevNumber = 0n;
    let parent: string | undefined;
    if (start === 0) {
      // Without a genesis yet (a regular node before its first sync), the
      // replay checks block 1's parent once the genesis is fetched.
      const genesis = await this.readGenesis();
      if (genesis !== undefined) parent = genesisHash(genesis);
    } else {
      const { bytes } = await lineBefore(file, start);
      let prev: SigBlock;
      try {
        prev = decodeSigBlock(bytes);
      } catch (e) {
        return refuse(`the line before it does not decode: ${messageOf(e)}`);
      }
      prevNumber = prev.number;
      parent = blockHash(prev);
    }
    if (block.number !== prevNumber + 1n) {
      refuse(
        start === 0
          ? "it is the first line, which must hold block 1"
          : `the line before it holds block ${prevNumber}`,
      );
    }
    if (parent !== undefined && block.parent !== parent) {
      refuse(
        `its parent ${block.parent.slice(0, 7)} is not ` +
          (start === 0 ? "the genesis" : `block ${prevNumber}`) +
          ` (${parent.slice(0, 7)})`,
      );
    }
  }
}

/** The line number of block `from`: 0 and 1 both mean line 1. */
function lineOfBlock(from: bigint | undefined): number {
  if (from === undefined || from <= 1n) return 1;
  if (from > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  return Number(from);
}

/** The offset of the last `\n` before offset `before`, or -1. */
async function lastNewline(file: Deno.FsFile, before: number): Promise<number> {
  const chunk = DEFAULT_CHUNK;
  let end = before;
  while (end > 0) {
    const start = Math.max(0, end - chunk);
    const bytes = await readAt(file, start, end - start);
    const i = bytes.lastIndexOf(NL);
    if (i >= 0) return start + i;
    end = start;
  }
  return -1;
}

/**
 * The line whose `\n` is the byte before offset `end`: its start offset and
 * its bytes without the `\n`.
 */
async function lineBefore(
  file: Deno.FsFile,
  end: number,
): Promise<{ start: number; bytes: Uint8Array }> {
  const start = (await lastNewline(file, end - 1)) + 1;
  return { start, bytes: await readAt(file, start, end - 1 - start) };
}

/** Reads exactly `length` bytes at `offset`. */
async function readAt(
  file: Deno.FsFile,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  await file.seek(offset, Deno.SeekMode.Start);
  const out = new Uint8Array(length);
  let off = 0;
  while (off < length) {
    const n = await file.read(out.subarray(off));
    if (n === null) {
      throw new Error(`unexpected end of file at ${offset + off}`);
    }
    off += n;
  }
  return out;
}
