/**
 * The hash of a confirmed state: every account's balance and nonce, in one
 * canonical order, defined once here for the authority's checkpoints, the
 * nodes that check them and the state stream of checkpoint sync.
 *
 * Accounts are sorted by the byte order of their UTF-8 address (the order
 * of genesis balances, FORMAT.md section 1). Each account is the canonical
 * JSON array `[ADDRESS,BALANCE,NONCE]` (an account without a nonce has
 * nonce 0). The sorted accounts are cut into chunks of
 * {@link STATE_CHUNK_ACCOUNTS} (the last may be shorter, never empty); a
 * chunk's text is the canonical JSON array of its accounts and its hash the
 * Keccak-256 of that text. The state hash is the Keccak-256 of
 * `{"accounts":COUNT,"chunks":[CHUNK_HASH,...]}`.
 *
 * Chunks let a state travel and be checked in pieces of bounded size,
 * while the hash needs only one 32-byte hash per thousand accounts.
 *
 * @module
 */
import { keccak256Hex } from "./crypto.ts";
import {
  asString,
  asU64,
  compareUtf8,
  DecodeError,
  encodeString,
  encodeU64,
  parseJson,
} from "./json.ts";

/** Accounts per chunk of the state (the last chunk may hold fewer). */
export const STATE_CHUNK_ACCOUNTS = 1000;

/** One account of a state. */
export interface StateAccount {
  /** The address (any string a transaction named as receiver). */
  readonly address: string;
  /** Its confirmed balance. */
  readonly balance: bigint;
  /** Its confirmed nonce; 0 when it never sent. */
  readonly nonce: bigint;
}

/** The balances and nonces of a confirmed state (a `State.confirmed()`). */
export interface StateMaps {
  /** Every confirmed balance. */
  readonly balances: ReadonlyMap<string, bigint>;
  /** Every confirmed nonce. */
  readonly nonces: ReadonlyMap<string, bigint>;
}

/**
 * The accounts of a state in canonical order: every address with a balance
 * or a nonce (a balance it lacks counts as 0).
 *
 * @example
 * ```ts
 * import { stateAccounts } from "./state_hash.ts";
 * const accounts = stateAccounts({
 *   balances: new Map([["b", 2n], ["a", 1n]]),
 *   nonces: new Map([["a", 3n]]),
 * });
 * console.log(accounts.map((a) => a.address)); // ["a", "b"]
 * ```
 */
export function stateAccounts(state: StateMaps): StateAccount[] {
  const addresses = new Set(state.balances.keys());
  for (const a of state.nonces.keys()) addresses.add(a);
  return [...addresses].sort(compareUtf8).map((address) => ({
    address,
    balance: state.balances.get(address) ?? 0n,
    nonce: state.nonces.get(address) ?? 0n,
  }));
}

/**
 * The canonical text of a chunk of accounts: `[[ADDRESS,BALANCE,NONCE],...]`.
 *
 * @example
 * ```ts
 * import { encodeStateChunk } from "./state_hash.ts";
 * encodeStateChunk([{ address: "a", balance: 1n, nonce: 0n }]); // '[["a",1,0]]'
 * ```
 */
export function encodeStateChunk(accounts: readonly StateAccount[]): string {
  return `[${
    accounts.map((a) =>
      `[${encodeString(a.address)},${encodeU64(a.balance)},${
        encodeU64(a.nonce)
      }]`
    ).join(",")
  }]`;
}

/**
 * Decodes a chunk's text; throws a {@link DecodeError} naming the entry
 * that is not `[string, u64, u64]`. Order and size are the caller's to
 * check ({@link StateHasher} does).
 *
 * @example
 * ```ts
 * import { decodeStateChunk } from "./state_hash.ts";
 * decodeStateChunk('[["a",1,0]]')[0].balance; // 1n
 * ```
 */
export function decodeStateChunk(
  input: string | Uint8Array,
  path = "chunk",
): StateAccount[] {
  const v = parseJson(input, path);
  if (!Array.isArray(v)) throw new DecodeError(path, "expected an array");
  return v.map((e, i) => {
    const at = `${path}[${i}]`;
    if (!Array.isArray(e) || e.length !== 3) {
      throw new DecodeError(at, "expected [address, balance, nonce]");
    }
    return {
      address: asString(e[0], `${at}[0]`),
      balance: asU64(e[1], `${at}[1]`),
      nonce: asU64(e[2], `${at}[2]`),
    };
  });
}

/**
 * The chunks of a state, in order, as canonical text: what the state hash
 * covers and what the checkpoint RPC streams.
 *
 * @example
 * ```ts
 * import { stateChunks } from "./state_hash.ts";
 * const state = { balances: new Map([["a", 1n]]), nonces: new Map() };
 * console.log([...stateChunks(state)]); // ['[["a",1,0]]']
 * ```
 */
export function* stateChunks(state: StateMaps): Generator<string> {
  const accounts = stateAccounts(state);
  for (let i = 0; i < accounts.length; i += STATE_CHUNK_ACCOUNTS) {
    yield encodeStateChunk(accounts.slice(i, i + STATE_CHUNK_ACCOUNTS));
  }
}

/**
 * Computes a state hash chunk by chunk, checking as it goes that the
 * chunks are a canonical state: every chunk but the last full, none empty,
 * addresses strictly ascending across chunks. Each violation is a one-line
 * Error. Used both to hash a local state and to check a streamed one.
 *
 * @example
 * ```ts
 * import { StateHasher } from "./state_hash.ts";
 * const h = new StateHasher();
 * h.add([{ address: "a", balance: 1n, nonce: 0n }]);
 * console.log(h.finish().accounts); // 1
 * ```
 */
export class StateHasher {
  readonly #chunks: string[] = [];
  #accounts = 0;
  #last: string | undefined;
  #short = false;

  /** Adds the next chunk's accounts; returns its canonical text. */
  add(accounts: readonly StateAccount[]): string {
    if (accounts.length === 0) throw new Error("empty state chunk");
    if (this.#short) {
      throw new Error(
        `state chunk after a short one (chunks hold ${STATE_CHUNK_ACCOUNTS} accounts but the last)`,
      );
    }
    if (accounts.length > STATE_CHUNK_ACCOUNTS) {
      throw new Error(
        `state chunk of ${accounts.length} accounts, more than ${STATE_CHUNK_ACCOUNTS}`,
      );
    }
    for (const a of accounts) {
      if (this.#last !== undefined && compareUtf8(this.#last, a.address) >= 0) {
        throw new Error(
          `state accounts out of order: ${
            encodeString(a.address.slice(0, 80))
          } after ${encodeString(this.#last.slice(0, 80))}`,
        );
      }
      this.#last = a.address;
    }
    if (accounts.length < STATE_CHUNK_ACCOUNTS) this.#short = true;
    const text = encodeStateChunk(accounts);
    this.#chunks.push(keccak256Hex(text));
    this.#accounts += accounts.length;
    return text;
  }

  /** Accounts added so far. */
  get accounts(): number {
    return this.#accounts;
  }

  /** The state hash of the chunks added, and how many accounts they held. */
  finish(): { hash: string; accounts: number } {
    return {
      hash: keccak256Hex(
        `{"accounts":${this.#accounts},"chunks":[${
          this.#chunks.map((h) => `"${h}"`).join(",")
        }]}`,
      ),
      accounts: this.#accounts,
    };
  }
}

/**
 * The hash of a confirmed state (see the module documentation) and its
 * number of accounts.
 *
 * @example
 * ```ts
 * import { stateHash } from "./state_hash.ts";
 * const { hash } = stateHash({ balances: new Map([["a", 1n]]), nonces: new Map() });
 * console.log(hash.length); // 64
 * ```
 */
export function stateHash(
  state: StateMaps,
): { hash: string; accounts: number } {
  const h = new StateHasher();
  const accounts = stateAccounts(state);
  for (let i = 0; i < accounts.length; i += STATE_CHUNK_ACCOUNTS) {
    h.add(accounts.slice(i, i + STATE_CHUNK_ACCOUNTS));
  }
  return h.finish();
}
