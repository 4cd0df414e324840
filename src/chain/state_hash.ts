/**
 * The hash of a confirmed state: every account's balance and nonce, in one
 * canonical order, defined once here for the authority's checkpoints, the
 * nodes that check them and the state stream of checkpoint sync.
 *
 * Accounts are sorted by the byte order of their UTF-8 address (the order
 * of genesis balances, FORMAT.md section 1). Each account is the canonical
 * JSON array `[ADDRESS,BALANCE,NONCE]` (an account without a nonce has
 * nonce 0). The sorted accounts are cut into chunks, in order: a chunk
 * takes the next account while it holds fewer than
 * {@link STATE_CHUNK_ACCOUNTS} and its text would stay within
 * {@link STATE_CHUNK_BYTES} (its first account it always takes). A chunk's
 * text is the canonical JSON array of its accounts and its hash the
 * Keccak-256 of that text. The state hash is the Keccak-256 of
 * `{"accounts":COUNT,"chunks":[CHUNK_HASH,...]}`.
 *
 * Chunks let a state travel and be checked in pieces of bounded size,
 * while the hash needs only one 32-byte hash per thousand accounts. The
 * bound in bytes matters because an address is any string a transaction
 * named: a few long receivers must not make a chunk too large to travel.
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

/** The most accounts in a chunk of the state. */
export const STATE_CHUNK_ACCOUNTS = 1000;

/**
 * The most bytes of UTF-8 text in a chunk of the state, unless the chunk
 * is one account whose text alone is longer.
 */
export const STATE_CHUNK_BYTES = 1024 * 1024;

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
  return `[${accounts.map(encodeAccount).join(",")}]`;
}

function encodeAccount(a: StateAccount): string {
  return `[${encodeString(a.address)},${encodeU64(a.balance)},${
    encodeU64(a.nonce)
  }]`;
}

/** The length in bytes of `s` encoded as UTF-8 (a lone surrogate: 3). */
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    const d = s.charCodeAt(i + 1);
    if (c >= 0xd800 && c < 0xdc00 && d >= 0xdc00 && d < 0xe000) {
      n += 2; // a surrogate pair: two UTF-16 units, four bytes
      i++;
    } else n += c < 0x800 ? 1 : 2;
  }
  return n;
}

/** The bytes of an account's text. */
function accountBytes(a: StateAccount): number {
  return utf8Length(encodeAccount(a));
}

/**
 * At least the bytes of an account's text: a UTF-16 unit of the address
 * takes at most 6 bytes (a `\uXXXX` escape); the brackets, quotes, commas
 * and two u64 numbers at most 46.
 */
function accountBound(a: StateAccount): number {
  return a.address.length * 6 + 46;
}

/**
 * Accounts in canonical order cut into the chunks of the state (see the
 * module documentation): at most {@link STATE_CHUNK_ACCOUNTS} accounts and
 * {@link STATE_CHUNK_BYTES} bytes of text each, unless one account alone
 * is longer.
 *
 * @example
 * ```ts
 * import { chunkAccounts } from "./state_hash.ts";
 * const chunks = chunkAccounts([{ address: "a", balance: 1n, nonce: 0n }]);
 * console.log(chunks.length); // 1
 * ```
 */
export function chunkAccounts(
  accounts: readonly StateAccount[],
): StateAccount[][] {
  const chunks: StateAccount[][] = [];
  let chunk: StateAccount[] = [];
  // The chunk's bytes: a bound, cheap to work out, until the bound comes
  // near STATE_CHUNK_BYTES; exact from then on (so each chunk is encoded
  // at most once more, and ordinary states never are).
  let bytes = 0;
  let exact = false;
  for (const a of accounts) {
    let size = exact ? accountBytes(a) : accountBound(a);
    if (
      !exact && chunk.length > 0 && bytes + 1 + size > STATE_CHUNK_BYTES
    ) {
      bytes = utf8Length(encodeStateChunk(chunk));
      size = accountBytes(a);
      exact = true;
    }
    if (
      chunk.length > 0 &&
      (chunk.length >= STATE_CHUNK_ACCOUNTS ||
        bytes + 1 + size > STATE_CHUNK_BYTES)
    ) {
      chunks.push(chunk);
      chunk = [];
      if (exact) size = accountBound(a);
      exact = false;
    }
    // "[" and "]", or a "," before every account but the first.
    bytes = chunk.length === 0 ? 2 + size : bytes + 1 + size;
    chunk.push(a);
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/**
 * How many entries the top-level array of `input` holds, counted up to
 * `stop + 1` without parsing (commas at depth 1 outside strings): what
 * bounds the cost of a chunk before it is parsed. Malformed text is left
 * to the parser.
 */
function countEntries(input: string | Uint8Array, stop: number): number {
  const at = typeof input === "string"
    ? (i: number) => input.charCodeAt(i)
    : (i: number) => input[i];
  let depth = 0;
  let entries = 0;
  for (let i = 0; i < input.length; i++) {
    const c = at(i);
    if (c === 0x22) { // '"': skip the string, escapes and all
      for (i++; i < input.length; i++) {
        const d = at(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b) { // '['
      if (++depth === 2 && entries === 0) entries = 1;
    } else if (c === 0x5d) depth--; // ']'
    else if (c === 0x2c && depth === 1 && ++entries > stop) return entries;
  }
  return entries;
}

/**
 * Decodes a chunk's text; throws a {@link DecodeError} naming the entry
 * that is not `[string, u64, u64]`. Before it parses anything it refuses a
 * text of more than {@link STATE_CHUNK_ACCOUNTS} accounts, or of more than
 * {@link STATE_CHUNK_BYTES} bytes in more than one account, so a peer's
 * chunk costs memory in proportion to what a chunk may be. Order and the
 * rest of the cut are the caller's to check ({@link StateHasher} does).
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
  const entries = countEntries(input, STATE_CHUNK_ACCOUNTS);
  if (entries > STATE_CHUNK_ACCOUNTS) {
    throw new DecodeError(
      path,
      `more than ${STATE_CHUNK_ACCOUNTS} accounts in one chunk`,
    );
  }
  const bytes = typeof input === "string" ? utf8Length(input) : input.length;
  if (entries > 1 && bytes > STATE_CHUNK_BYTES) {
    throw new DecodeError(
      path,
      `${bytes} bytes in ${entries} accounts, more than ${STATE_CHUNK_BYTES} (only one account may be longer)`,
    );
  }
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
  for (const chunk of chunkAccounts(stateAccounts(state))) {
    yield encodeStateChunk(chunk);
  }
}

/**
 * Computes a state hash chunk by chunk, checking as it goes that the
 * chunks are a canonical state: cut as {@link chunkAccounts} cuts (every
 * chunk but the last as full as the bounds allow, none empty, none past
 * them), addresses strictly ascending across chunks. Each violation is a
 * one-line Error. Used both to hash a local state and to check a streamed
 * one.
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
  /** The previous chunk's accounts and bytes, when it was not full. */
  #short: { accounts: number; bytes: number } | undefined;

  /** Adds the next chunk's accounts; returns its canonical text. */
  add(accounts: readonly StateAccount[]): string {
    if (accounts.length === 0) throw new Error("empty state chunk");
    if (accounts.length > STATE_CHUNK_ACCOUNTS) {
      throw new Error(
        `state chunk of ${accounts.length} accounts, more than ${STATE_CHUNK_ACCOUNTS}`,
      );
    }
    if (
      this.#short &&
      this.#short.bytes + 1 + accountBytes(accounts[0]) <= STATE_CHUNK_BYTES
    ) {
      throw new Error(
        `state chunk after a short one (${this.#short.accounts} accounts, ${this.#short.bytes} bytes: it had room for the next account)`,
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
    const text = encodeStateChunk(accounts);
    // A UTF-16 unit takes at most 3 bytes of UTF-8: most chunks need no
    // count.
    const short = accounts.length < STATE_CHUNK_ACCOUNTS;
    const bytes = short || text.length * 3 > STATE_CHUNK_BYTES
      ? utf8Length(text)
      : 0;
    if (accounts.length > 1 && bytes > STATE_CHUNK_BYTES) {
      throw new Error(
        `state chunk of ${bytes} bytes, more than ${STATE_CHUNK_BYTES} (only one account may be longer)`,
      );
    }
    this.#short = short ? { accounts: accounts.length, bytes } : undefined;
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
  for (const chunk of chunkAccounts(stateAccounts(state))) h.add(chunk);
  return h.finish();
}
