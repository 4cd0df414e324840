/**
 * Snapshots of confirmed state in `snapshot.json` beside `block.store`, so a
 * restart replays only the blocks after the last one. A start uses one only
 * when it matches the store (the same genesis, and the line ending at
 * `length` is block `number` with that hash): anything else is a full
 * replay, never a wrong state. docs/operating.md ("Files") has the format.
 *
 * @module
 */
import { join } from "node:path";
import { blockHash, decodeSigBlock, type SigBlock } from "../chain/block.ts";
import { keccak256Hex } from "../chain/crypto.ts";
import {
  asString,
  asU64,
  DecodeError,
  encodeString,
  encodeU64,
  Fields,
  type JsonValue,
  parseJson,
} from "../chain/json.ts";
import type { ConfirmedState, State } from "../chain/state.ts";
import { writeFileAtomic } from "../store/atomic_write.ts";
import type { BlockStore } from "../store/block_store.ts";
import { encodeUtf8 } from "../util/utf8.ts";
import { messageOf } from "../util/errors.ts";

/** A running node writes a snapshot after this many new blocks. */
export const SNAPSHOT_EVERY = 1000;

/** The snapshot's file name inside the block-store directory. */
export const SNAPSHOT_FILE = "snapshot.json";

const VERSION = 1n;
const CHECKSUM_RE = /,"checksum":"([0-9a-f]{64})"\}\n?$/;

/** A snapshot that matches its store: the state and where to go on from. */
export interface Snapshot {
  /** The confirmed state at block `lastNumber`. */
  readonly state: ConfirmedState;
  /** The size of `block.store` up to and including that block. */
  readonly length: number;
}

/** What {@link readSnapshot} found. */
export type SnapshotRead =
  | { snapshot: Snapshot }
  | { missing: true }
  | { unusable: string };

function pairs(m: ReadonlyMap<string, bigint>): string {
  const keys = [...m.keys()].sort();
  return keys.map((k) => `[${encodeString(k)},${encodeU64(m.get(k)!)}]`)
    .join(",");
}

/**
 * The snapshot document of `state` for a store `length` bytes long: one line
 * of canonical JSON, `checksum` the Keccak-256 of the document without it.
 *
 * ```
 * {"version":1,"genesis":HASH,"number":N,"hash":HASH,"length":BYTES,
 *  "balances":[[ADDRESS,AMOUNT],...],"nonces":[[ADDRESS,NONCE],...],
 *  "checksum":HASH}
 * ```
 */
export function encodeSnapshot(
  state: State,
  length: number,
): string {
  const c = state.confirmed();
  const body = `{"version":${VERSION},"genesis":"${state.genesisHash}",` +
    `"number":${encodeU64(c.lastNumber)},"hash":"${c.lastHash}",` +
    `"length":${length},"balances":[${pairs(c.balances)}],` +
    `"nonces":[${pairs(c.nonces)}]}`;
  return `${body.slice(0, -1)},"checksum":"${keccak256Hex(body)}"}\n`;
}

/**
 * Writes the snapshot of `state` beside `store`, atomically. `length` is
 * the size of `block.store` holding exactly blocks 1..state.lastNumber.
 *
 * @example
 * ```ts
 * import { writeSnapshot } from "./snapshot.ts";
 * import type { State } from "../chain/state.ts";
 * import type { BlockStore } from "../store/block_store.ts";
 * async function keep(store: BlockStore, state: State): Promise<void> {
 *   await writeSnapshot(store, state, await store.blocksSize());
 * }
 * ```
 */
export async function writeSnapshot(
  store: BlockStore,
  state: State,
  length: number,
): Promise<void> {
  const text = encodeSnapshot(state, length);
  await writeFileAtomic(join(store.dir, SNAPSHOT_FILE), encodeUtf8(text), {
    mode: 0o600,
  });
}

function readPairs(
  f: Fields,
  name: string,
): Map<string, bigint> {
  const out = new Map<string, bigint>();
  f.array(name).forEach((v: JsonValue, i) => {
    const path = `${f.at(name)}[${i}]`;
    if (!Array.isArray(v) || v.length !== 2) {
      throw new DecodeError(path, "expected [key, value]");
    }
    out.set(asString(v[0], `${path}[0]`), asU64(v[1], `${path}[1]`));
  });
  return out;
}

/**
 * Reads the snapshot beside `store` and checks it against the store and
 * the genesis `genesisHash`. Resolves to the snapshot when it matches; to
 * `missing` when there is none; to `unusable` with a one-line reason
 * otherwise (damaged, another chain, stale, not matching the store).
 *
 * @example
 * ```ts
 * import { readSnapshot } from "./snapshot.ts";
 * import type { BlockStore } from "../store/block_store.ts";
 * async function from(store: BlockStore, genesis: string): Promise<number> {
 *   const r = await readSnapshot(store, genesis);
 *   return "snapshot" in r ? r.snapshot.length : 0;
 * }
 * ```
 */
export async function readSnapshot(
  store: BlockStore,
  genesisHash: string,
): Promise<SnapshotRead> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(store.dir, SNAPSHOT_FILE));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { missing: true };
    return { unusable: `cannot read it: ${messageOf(e)}` };
  }
  const m = CHECKSUM_RE.exec(text);
  if (!m) return { unusable: "it is damaged (no checksum)" };
  const body = text.slice(0, m.index) + "}";
  if (keccak256Hex(body) !== m[1]) {
    return { unusable: "it is damaged (wrong checksum)" };
  }
  let number: bigint, hash: string, length: number;
  let balances: Map<string, bigint>, nonces: Map<string, bigint>;
  try {
    const f = new Fields(parseJson(body, SNAPSHOT_FILE), SNAPSHOT_FILE);
    if (f.u64("version") !== VERSION) {
      return { unusable: `unknown version ${f.u64("version")}` };
    }
    if (f.hash("genesis") !== genesisHash) {
      return { unusable: "it belongs to another chain" };
    }
    number = f.u64("number");
    hash = f.hash("hash");
    const len = f.u64("length");
    if (len > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new DecodeError(f.at("length"), "too large");
    }
    length = Number(len);
    balances = readPairs(f, "balances");
    nonces = readPairs(f, "nonces");
  } catch (e) {
    return { unusable: `it is damaged: ${messageOf(e)}` };
  }
  if (number === 0n) {
    if (length !== 0 || hash !== genesisHash) {
      return { unusable: "it does not match the genesis" };
    }
    return {
      snapshot: {
        state: { lastNumber: 0n, lastHash: hash, balances, nonces },
        length: 0,
      },
    };
  }
  if (length < 1) return { unusable: "it is damaged: length 0" };
  const line = await store.lineEndingAt(length);
  if (typeof line === "string") return { unusable: `stale: ${line}` };
  let block: SigBlock;
  try {
    block = decodeSigBlock(line);
  } catch (e) {
    return {
      unusable: `block.store has no block where it says: ${messageOf(e)}`,
    };
  }
  if (block.number !== number || blockHash(block) !== hash) {
    return {
      unusable:
        `it does not match block.store (block ${number} there is ${block.number} ${
          blockHash(block).slice(0, 7)
        }, the snapshot says ${hash.slice(0, 7)})`,
    };
  }
  return {
    snapshot: {
      state: {
        lastNumber: number,
        lastHash: hash,
        lastBlock: block,
        balances,
        nonces,
      },
      length,
    },
  };
}
