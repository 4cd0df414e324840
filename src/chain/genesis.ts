/**
 * The genesis (`docs/FORMAT.md`, section 3): chain name, authority,
 * initial balances.
 *
 * @module
 */
import { keccak256, keccak256Hex, verifySignature } from "./crypto.ts";
import {
  asU64,
  compareUtf8,
  DecodeError,
  encodeBytes,
  encodeString,
  encodeU64,
  parseObject,
} from "./json.ts";
import { asTime, formatTime, type Time, timeNow } from "./time.ts";

/** The first state of a chain. */
export interface Genesis {
  /** The chain's name. */
  readonly chain: string;
  /** The address that signs the genesis and every block. */
  readonly authority: string;
  /** Initial balances by address. */
  readonly balances: ReadonlyMap<string, bigint>;
  /** When the chain was created. */
  readonly time: Time;
}

/** A genesis signed by its authority. */
export interface SigGenesis extends Genesis {
  /** r || s || v over {@link genesisDigest}. */
  readonly sig: Uint8Array;
}

/** What a new genesis holds besides its chain name (see {@link newGenesis}). */
export interface NewGenesisOptions {
  /** The address that signs the genesis and every block. */
  authority: string;
  /** Initial balances by address: the owner's, or several. */
  balances: Iterable<readonly [string, bigint]>;
}

/**
 * A new genesis of chain `chain`, timed now.
 *
 * @example
 * ```ts
 * import { newGenesis } from "./genesis.ts";
 * const g = newGenesis("blockchain", {
 *   authority: "a".repeat(64),
 *   balances: [["b".repeat(64), 1000n]],
 * });
 * console.log(g.balances.size); // 1
 * ```
 */
export function newGenesis(chain: string, options: NewGenesisOptions): Genesis {
  return {
    chain,
    authority: options.authority,
    balances: new Map(options.balances),
    time: timeNow(),
  };
}

function genesisFields(g: Genesis): string {
  const keys = [...g.balances.keys()].sort(compareUtf8);
  const bals = keys.map((k) =>
    `${encodeString(k)}:${encodeU64(g.balances.get(k)!)}`
  );
  return `"chain":${encodeString(g.chain)},"authority":${
    encodeString(g.authority)
  },"balances":{${bals.join(",")}},"time":"${formatTime(g.time)}"`;
}

/** Canonical JSON of an unsigned genesis. */
export function encodeGenesis(g: Genesis): string {
  return `{${genesisFields(g)}}`;
}

/** Canonical JSON of a signed genesis, as stored in `genesis.json`. */
export function encodeSigGenesis(g: SigGenesis): string {
  return `{${genesisFields(g)},"sig":${encodeBytes(g.sig)}}`;
}

/** Decodes a signed genesis from JSON text or bytes. */
export function decodeSigGenesis(
  input: string | Uint8Array,
  path = "genesis",
): SigGenesis {
  const f = parseObject(input, path);
  const balances = new Map<string, bigint>();
  for (const [k, v] of f.object("balances")) {
    balances.set(k, asU64(v, `${f.at("balances")}.${k}`));
  }
  const total = [...balances.values()].reduce((a, b) => a + b, 0n);
  if (total >= 1n << 64n) {
    throw new DecodeError(f.at("balances"), "total exceeds a u64");
  }
  return {
    chain: f.string("chain"),
    authority: f.string("authority"),
    balances,
    time: asTime(f.raw("time"), f.at("time")),
    sig: f.bytes("sig"),
  };
}

/** The digest the authority signs: Keccak-256 of the canonical Genesis. */
export function genesisDigest(g: Genesis): Uint8Array {
  return keccak256(encodeGenesis(g));
}

/** The genesis identifier, parent of block 1. */
export function genesisHash(g: SigGenesis): string {
  return keccak256Hex(encodeSigGenesis(g));
}

/** Whether the genesis is signed by its authority. */
export function verifyGenesis(g: SigGenesis): boolean {
  return verifySignature(genesisDigest(g), g.sig, g.authority);
}
