/**
 * Checkpoints: the authority's signed word that block `number` of a chain
 * has hash `block` and that the confirmed state after it hashes to `state`
 * (see `state_hash.ts`). A bcn authority makes one at every block whose
 * number is a multiple of `interval`; every node that applies that block
 * checks it; a new node may start from one instead of replaying the chain.
 *
 * Canonical JSON, fields in this order (the digest the authority signs is
 * the Keccak-256 of the unsigned record, its identifier that of the signed
 * one, as for blocks):
 *
 * ```
 * {"chain":NAME,"genesis":HASH,"interval":U64,"number":U64,"block":HASH,
 *  "state":HASH,"accounts":U64,"sig":BASE64}
 * ```
 *
 * `genesis` ties it to one chain (names alone may clash); `interval` is how
 * the authority announces the chain's checkpoint interval; `accounts` is
 * how many accounts the state holds, so a node fetching the state knows how
 * much to expect before it reads any of it.
 *
 * @module
 */
import { keccak256, keccak256Hex, verifySignature } from "./crypto.ts";
import {
  DecodeError,
  encodeBytes,
  encodeString,
  encodeU64,
  parseObject,
} from "./json.ts";

/** The default checkpoint interval, in blocks. */
export const DEFAULT_CHECKPOINT_INTERVAL = 1000n;

/** The largest checkpoint interval a node accepts. */
export const MAX_CHECKPOINT_INTERVAL = 1_000_000_000n;

/** An unsigned checkpoint. */
export interface Checkpoint {
  /** The chain name, from the genesis. */
  readonly chain: string;
  /** The genesis identifier. */
  readonly genesis: string;
  /** The chain's checkpoint interval, in blocks. */
  readonly interval: bigint;
  /** The block the checkpoint is at: a multiple of `interval`. */
  readonly number: bigint;
  /** The identifier of block `number`. */
  readonly block: string;
  /** The state hash after block `number`. */
  readonly state: string;
  /** How many accounts that state holds. */
  readonly accounts: bigint;
}

/** A checkpoint signed by the genesis authority. */
export interface SigCheckpoint extends Checkpoint {
  /** r || s || v over {@link checkpointDigest}. */
  readonly sig: Uint8Array;
}

function fields(c: Checkpoint): string {
  return `"chain":${encodeString(c.chain)},"genesis":"${c.genesis}",` +
    `"interval":${encodeU64(c.interval)},"number":${encodeU64(c.number)},` +
    `"block":"${c.block}","state":"${c.state}",` +
    `"accounts":${encodeU64(c.accounts)}`;
}

/**
 * Canonical JSON of an unsigned checkpoint.
 *
 * @example
 * ```ts
 * import { encodeCheckpoint } from "./checkpoint.ts";
 * const h = "0".repeat(64);
 * encodeCheckpoint({ chain: "c", genesis: h, interval: 1000n, number: 1000n, block: h, state: h, accounts: 1n });
 * ```
 */
export function encodeCheckpoint(c: Checkpoint): string {
  return `{${fields(c)}}`;
}

/**
 * Canonical JSON of a signed checkpoint: one line of `checkpoints.jsonl`.
 *
 * @example
 * ```ts
 * import { decodeSigCheckpoint, encodeSigCheckpoint } from "./checkpoint.ts";
 * function roundTrip(line: string): boolean {
 *   return encodeSigCheckpoint(decodeSigCheckpoint(line)) === line;
 * }
 * ```
 */
export function encodeSigCheckpoint(c: SigCheckpoint): string {
  return `{${fields(c)},"sig":${encodeBytes(c.sig)}}`;
}

/**
 * Decodes a signed checkpoint (not verified); throws a {@link DecodeError}
 * naming the field that is wrong. The number must be a positive multiple
 * of an interval from 1 to {@link MAX_CHECKPOINT_INTERVAL}.
 *
 * @example
 * ```ts
 * import { decodeSigCheckpoint } from "./checkpoint.ts";
 * import { messageOf } from "../util/errors.ts";
 * try {
 *   decodeSigCheckpoint("{}");
 * } catch (e) {
 *   console.log(messageOf(e)); // checkpoint.chain: missing
 * }
 * ```
 */
export function decodeSigCheckpoint(
  input: string | Uint8Array,
  path = "checkpoint",
): SigCheckpoint {
  const f = parseObject(input, path);
  const c: SigCheckpoint = {
    chain: f.string("chain"),
    genesis: f.hash("genesis"),
    interval: f.u64("interval"),
    number: f.u64("number"),
    block: f.hash("block"),
    state: f.hash("state"),
    accounts: f.u64("accounts"),
    sig: f.bytes("sig"),
  };
  if (c.interval < 1n || c.interval > MAX_CHECKPOINT_INTERVAL) {
    throw new DecodeError(
      f.at("interval"),
      `expected 1 to ${MAX_CHECKPOINT_INTERVAL}`,
    );
  }
  if (c.number < 1n || c.number % c.interval !== 0n) {
    throw new DecodeError(
      f.at("number"),
      `expected a positive multiple of the interval ${c.interval}`,
    );
  }
  return c;
}

/**
 * The digest the authority signs: Keccak-256 of the canonical Checkpoint.
 *
 * @example
 * ```ts
 * import { checkpointDigest } from "./checkpoint.ts";
 * const h = "0".repeat(64);
 * checkpointDigest({ chain: "c", genesis: h, interval: 1n, number: 1n, block: h, state: h, accounts: 1n }).length; // 32
 * ```
 */
export function checkpointDigest(c: Checkpoint): Uint8Array {
  return keccak256(encodeCheckpoint(c));
}

/**
 * A checkpoint's identifier: Keccak-256 of its canonical SigCheckpoint.
 *
 * @example
 * ```ts
 * import { checkpointHash, type SigCheckpoint } from "./checkpoint.ts";
 * function id(c: SigCheckpoint): string {
 *   return checkpointHash(c).slice(0, 7);
 * }
 * ```
 */
export function checkpointHash(c: SigCheckpoint): string {
  return keccak256Hex(encodeSigCheckpoint(c));
}

/**
 * Whether the checkpoint is signed by `authority` (the genesis authority).
 *
 * @example
 * ```ts
 * import { Account } from "./account.ts";
 * import { verifyCheckpoint } from "./checkpoint.ts";
 * const auth = Account.create();
 * const h = "0".repeat(64);
 * const c = auth.signCheckpoint({ chain: "c", genesis: h, interval: 1n, number: 1n, block: h, state: h, accounts: 1n });
 * console.log(verifyCheckpoint(c, auth.address)); // true
 * ```
 */
export function verifyCheckpoint(c: SigCheckpoint, authority: string): boolean {
  return verifySignature(checkpointDigest(c), c.sig, authority);
}
