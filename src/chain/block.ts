/**
 * Blocks (`docs/FORMAT.md`, section 3): numbered, chained batches of
 * transactions signed by the authority.
 *
 * @module
 */
import { keccak256, keccak256Hex } from "./crypto.ts";
import { recoverAddress } from "./signer_cache.ts";
import {
  DecodeError,
  encodeBytes,
  encodeU64,
  Fields,
  type JsonValue,
  parseJson,
} from "./json.ts";
import { merkleRoot } from "./merkle.ts";
import { asTime, formatTime, type Time } from "./time.ts";
import {
  encodeSigTx,
  primeTx,
  type SigTx,
  sigTxFromJson,
  txHash,
  txSigner,
} from "./tx.ts";
import { encodeUtf8 } from "../util/utf8.ts";

/** A block of transactions following `parent`. */
export interface Block {
  /** 1 for the first block, rising by one. */
  readonly number: bigint;
  /** The identifier of the previous block, or of the genesis for block 1. */
  readonly parent: string;
  /** The transactions in order; never empty. */
  readonly txs: readonly SigTx[];
  /** The Merkle root of the transaction hashes. */
  readonly merkleRoot: string;
  /** When the block was made. */
  readonly time: Time;
}

/** A block signed by the authority. */
export interface SigBlock extends Block {
  /** r || s || v over {@link blockDigest}. */
  readonly sig: Uint8Array;
}

function blockFields(b: Block): string {
  return `"number":${encodeU64(b.number)},"parent":"${b.parent}","txs":[${
    b.txs.map(encodeSigTx).join(",")
  }],"merkleRoot":"${b.merkleRoot}","time":"${formatTime(b.time)}"`;
}

/** Canonical JSON of an unsigned block. */
export function encodeBlock(b: Block): string {
  return `{${blockFields(b)}}`;
}

/** Canonical JSON of a signed block: one line of `block.store`. */
export function encodeSigBlock(b: SigBlock): string {
  return `{${blockFields(b)},"sig":${encodeBytes(b.sig)}}`;
}

/** Decodes a signed block from a parsed JSON value found at `path`. */
export function sigBlockFromJson(v: JsonValue, path = "block"): SigBlock {
  const f = new Fields(v, path);
  const txs = f.array("txs").map((t, i) =>
    sigTxFromJson(t, `${f.at("txs")}[${i}]`)
  );
  if (txs.length === 0) throw new DecodeError(f.at("txs"), "no transactions");
  return {
    number: f.u64("number"),
    parent: f.hash("parent"),
    txs,
    merkleRoot: f.hash("merkleRoot"),
    time: asTime(f.raw("time"), f.at("time")),
    sig: f.bytes("sig"),
  };
}

/** Decodes a signed block from JSON text or bytes. */
export function decodeSigBlock(
  input: string | Uint8Array,
  path = "block",
): SigBlock {
  return sigBlockFromJson(parseJson(input, path), path);
}

/** The digest the authority signs: Keccak-256 of the canonical Block. */
export function blockDigest(b: Block): Uint8Array {
  return keccak256(encodeBlock(b));
}

// Blocks are values: what is worked out about one is kept beside it, so a
// block decoded and verified by a worker is not hashed or recovered again.
const hashCache = new WeakMap<SigBlock, string>();
const bytesCache = new WeakMap<SigBlock, Uint8Array>();
const signerByBlock = new WeakMap<SigBlock, string | null>();
const rootCache = new WeakMap<Block, string>();

/**
 * The canonical SigBlock as UTF-8 bytes (a `block.store` line without its
 * newline), encoded once per block and shared by the store, relays and
 * events. Do not modify the array.
 */
export function blockBytes(b: SigBlock): Uint8Array {
  let bytes = bytesCache.get(b);
  if (bytes === undefined) {
    bytes = encodeUtf8(encodeSigBlock(b));
    bytesCache.set(b, bytes);
  }
  return bytes;
}

/** A block's identifier: Keccak-256 of its canonical SigBlock. */
export function blockHash(b: SigBlock): string {
  let h = hashCache.get(b);
  if (h === undefined) {
    h = keccak256Hex(blockBytes(b));
    hashCache.set(b, h);
  }
  return h;
}

/** The transaction hashes of a block, its Merkle leaves. */
export function blockLeaves(b: Block): string[] {
  return b.txs.map(txHash);
}

/** The Merkle root of a block's transactions, as computed (not as claimed). */
export function blockRoot(b: Block): string {
  let root = rootCache.get(b);
  if (root === undefined) {
    root = merkleRoot(blockLeaves(b));
    rootCache.set(b, root);
  }
  return root;
}

/**
 * The address the block's signature recovers, or null when the signature
 * is malformed.
 */
export function blockSigner(b: SigBlock): string | null {
  let signer = signerByBlock.get(b);
  if (signer === undefined) {
    try {
      signer = recoverAddress(blockDigest(b), b.sig, lastBlockSigner);
      lastBlockSigner = signer;
    } catch {
      signer = null;
    }
    signerByBlock.set(b, signer);
  }
  return signer;
}

// Blocks of a chain have one signer, the authority: its key is checked
// instead of recovered once this thread has seen it (see recoverAddress).
let lastBlockSigner: string | undefined;

/** Whether the block is signed by `authority`. */
export function verifyBlock(b: SigBlock, authority: string): boolean {
  return blockSigner(b) === authority;
}

/** What a verification worker worked out for a block, from its bytes. */
export interface BlockFacts {
  /** {@link blockBytes}: the canonical encoding. */
  readonly bytes: Uint8Array;
  /** {@link blockHash}. */
  readonly hash: string;
  /** {@link blockSigner}. */
  readonly signer: string | null;
  /** {@link blockRoot}. */
  readonly root: string;
  /** {@link txHash} of each transaction, in order. */
  readonly txHashes: readonly string[];
  /** {@link txSigner} of each transaction, in order. */
  readonly txSigners: readonly (string | null)[];
}

/** Works out every {@link BlockFacts} of a block (the costly part). */
export function blockFacts(b: SigBlock): BlockFacts {
  return {
    bytes: blockBytes(b),
    hash: blockHash(b),
    signer: blockSigner(b),
    root: blockRoot(b),
    txHashes: b.txs.map(txHash),
    txSigners: b.txs.map(txSigner),
  };
}

/**
 * Records facts worked out elsewhere (a verification worker, from the same
 * bytes) so applying the block does not compute them again. Internal to
 * the node, and in no entry of the package: it sets a block's signer
 * without recovering it.
 *
 * @example
 * ```ts
 * import { blockFacts, decodeSigBlock, primeBlock } from "./block.ts";
 * function fromWorker(line: Uint8Array): void {
 *   const block = decodeSigBlock(line);
 *   primeBlock(block, blockFacts(decodeSigBlock(line)));
 * }
 * ```
 */
export function primeBlock(b: SigBlock, facts: BlockFacts): void {
  bytesCache.set(b, facts.bytes);
  hashCache.set(b, facts.hash);
  signerByBlock.set(b, facts.signer);
  rootCache.set(b, facts.root);
  b.txs.forEach((tx, i) =>
    primeTx(tx, { hash: facts.txHashes[i], signer: facts.txSigners[i] })
  );
}
