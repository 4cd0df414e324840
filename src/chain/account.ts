/**
 * Accounts: a secp256k1 key pair, its address, and its key-file plaintext
 * (`docs/FORMAT.md`, sections 2, 3 and 5).
 *
 * @module
 */
import {
  addressOf,
  type PublicKey,
  publicKeyOf,
  randomPrivateKey,
  sign,
} from "./crypto.ts";
import { type Block, blockDigest, type SigBlock } from "./block.ts";
import {
  type Checkpoint,
  checkpointDigest,
  type SigCheckpoint,
} from "./checkpoint.ts";
import { type Genesis, genesisDigest, type SigGenesis } from "./genesis.ts";
import { asU64, DecodeError, parseObject } from "./json.ts";
import { type SigTx, type Tx, txDigest } from "./tx.ts";

/** A key pair that can sign transactions, a genesis and blocks. */
export class Account {
  /** The account's address. */
  readonly address: string;
  /** The public key. */
  readonly publicKey: PublicKey;
  readonly #d: bigint;

  /** Wraps private scalar `d`; throws when it is out of range. */
  constructor(d: bigint) {
    this.#d = d;
    this.publicKey = publicKeyOf(d);
    this.address = addressOf(this.publicKey);
  }

  /** A new account with a random key. */
  static create(): Account {
    return new Account(randomPrivateKey());
  }

  /** Signs a transaction. */
  signTx(tx: Tx): SigTx {
    return { ...tx, sig: sign(txDigest(tx), this.#d) };
  }

  /** Signs a genesis. */
  signGenesis(g: Genesis): SigGenesis {
    return { ...g, sig: sign(genesisDigest(g), this.#d) };
  }

  /** Signs a block. */
  signBlock(b: Block): SigBlock {
    return { ...b, sig: sign(blockDigest(b), this.#d) };
  }

  /** Signs a checkpoint (the authority's, see `checkpoint.ts`). */
  signCheckpoint(c: Checkpoint): SigCheckpoint {
    return { ...c, sig: sign(checkpointDigest(c), this.#d) };
  }

  /** The key-file plaintext: `{"curve":"P-256k1","x":..,"y":..,"d":..}`. */
  encodePrivateKey(): string {
    const { x, y } = this.publicKey;
    return `{"curve":"P-256k1","x":${x},"y":${y},"d":${this.#d}}`;
  }
}

/**
 * Reads a private-key JSON (fields in any order); `x` and `y` must belong to
 * `d`.
 */
export function decodePrivateKey(input: string | Uint8Array): Account {
  const f = parseObject(input, "key");
  if (f.string("curve") !== "P-256k1") {
    throw new DecodeError("key.curve", "expected P-256k1");
  }
  const num = (name: string): bigint => {
    // Coordinates are up to 256 bits: read them as non-negative integers.
    const v = f.raw(name);
    try {
      return asU64(v, f.at(name));
    } catch {
      if (
        typeof v === "object" && v !== null && "text" in v &&
        /^(0|[1-9]\d*)$/.test(v.text)
      ) {
        return BigInt(v.text);
      }
      throw new DecodeError(f.at(name), "expected a non-negative integer");
    }
  };
  const d = num("d");
  let acc: Account;
  try {
    acc = new Account(d);
  } catch {
    throw new DecodeError("key.d", "private key out of range");
  }
  if (acc.publicKey.x !== num("x") || acc.publicKey.y !== num("y")) {
    throw new DecodeError("key", "public key does not match the private key");
  }
  return acc;
}
