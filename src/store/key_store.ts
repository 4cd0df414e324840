/**
 * Password-encrypted key files, one per account (`docs/FORMAT.md`, section
 * 5): AES-256-GCM under an Argon2id key. The Argon2 cost is fixed by the
 * format, which the reference node reads and writes, so it is not tuned here.
 *
 * @module
 */
import { argon2idAsync } from "@noble/hashes/argon2.js";
import { join } from "node:path";
import { type Account, decodePrivateKey } from "../chain/account.ts";
import { writeFileAtomic } from "./atomic_write.ts";
import { encodeUtf8 } from "../util/utf8.ts";
import { messageOf } from "../util/errors.ts";

/** What went wrong in the key store, for callers that map it to a status. */
export type KeyStoreErrorKind =
  | "not-found"
  | "wrong-password"
  | "invalid-address"
  | "short-password"
  | "damaged";

/** A key-store error a user can fix (wrong password, missing key, ...). */
export class KeyStoreError extends Error {
  /** What went wrong. */
  readonly kind: KeyStoreErrorKind;
  /**
   * The message without the key store's paths, for a node's clients (who
   * must not learn where the node keeps its keys); `message` when it names
   * none.
   */
  readonly publicMessage: string;
  /**
   * Creates a key-store error of `kind` with a one-line message, and the
   * same without paths when `message` names one.
   */
  constructor(
    kind: KeyStoreErrorKind,
    message: string,
    publicMessage: string = message,
  ) {
    super(message);
    this.name = "KeyStoreError";
    this.kind = kind;
    this.publicMessage = publicMessage;
  }
}

/** The shortest accepted password, in UTF-8 bytes. */
export const MIN_PASSWORD_BYTES = 5;

const SALT_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const ADDRESS_RE = /^[0-9a-f]{64}$/;

async function aesKey(
  password: string,
  salt: Uint8Array,
  usage: KeyUsage,
): Promise<CryptoKey> {
  const raw = await argon2idAsync(encodeUtf8(password), salt, {
    t: 1,
    m: 256,
    p: 1,
    dkLen: 32,
    version: 0x13,
  });
  try {
    return await crypto.subtle.importKey("raw", raw, "AES-GCM", false, [
      usage,
    ]);
  } finally {
    raw.fill(0);
  }
}

/**
 * Encrypts an account's private key into key-file bytes with fresh random
 * salt and nonce. Refuses a password shorter than 5 UTF-8 bytes.
 *
 * @example
 * ```ts
 * import { Account } from "../chain/account.ts";
 * import { decryptKey, encryptKey } from "./key_store.ts";
 * const acc = Account.create();
 * const data = await encryptKey(acc, "secret password");
 * (await decryptKey(data, "secret password")).address === acc.address; // true
 * ```
 */
export async function encryptKey(
  account: Account,
  password: string,
): Promise<Uint8Array> {
  checkPassword(password);
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const key = await aesKey(password, salt, "encrypt");
  const plain = encodeUtf8(account.encodePrivateKey());
  try {
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce }, key, plain),
    );
    const out = new Uint8Array(SALT_BYTES + NONCE_BYTES + sealed.length);
    out.set(salt, 0);
    out.set(nonce, SALT_BYTES);
    out.set(sealed, SALT_BYTES + NONCE_BYTES);
    return out;
  } finally {
    plain.fill(0);
  }
}

/**
 * Decrypts key-file bytes; `undefined` when the password is wrong or the
 * bytes are damaged (AES-GCM cannot tell the two apart).
 */
async function openSealed(
  input: Uint8Array,
  password: string,
): Promise<Uint8Array | undefined> {
  const data = new Uint8Array(input); // an ArrayBuffer-backed copy for WebCrypto
  if (data.length < SALT_BYTES + NONCE_BYTES + TAG_BYTES) return undefined;
  const salt = data.subarray(0, SALT_BYTES);
  const nonce = data.subarray(SALT_BYTES, SALT_BYTES + NONCE_BYTES);
  const sealed = data.subarray(SALT_BYTES + NONCE_BYTES);
  const key = await aesKey(password, salt, "decrypt");
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce }, key, sealed),
    );
  } catch {
    return undefined;
  }
}

/**
 * Decrypts key-file bytes into an account. Throws a {@link KeyStoreError}
 * when the password is wrong or the bytes are damaged.
 *
 * @example
 * ```ts
 * import { Account } from "../chain/account.ts";
 * import { decryptKey, encryptKey } from "./key_store.ts";
 * const data = await encryptKey(Account.create(), "secret password");
 * await decryptKey(data, "secret password");
 * ```
 */
export async function decryptKey(
  data: Uint8Array,
  password: string,
): Promise<Account> {
  return await decryptNamed(data, password, "key");
}

// `name` is what the error says (it may hold a path); `publicName` the same
// without the path, for clients.
async function decryptNamed(
  data: Uint8Array,
  password: string,
  name: string,
  publicName: string = name,
): Promise<Account> {
  const plain = await openSealed(data, password);
  if (plain === undefined) {
    const why = "wrong password or corrupted file";
    throw new KeyStoreError(
      "wrong-password",
      `cannot decrypt ${name}: ${why}`,
      `cannot decrypt ${publicName}: ${why}`,
    );
  }
  try {
    return decodePrivateKey(plain);
  } catch (e) {
    throw new KeyStoreError(
      "damaged",
      `${name} holds no valid key: ${messageOf(e)}`,
      `${publicName} holds no valid key: ${messageOf(e)}`,
    );
  } finally {
    plain.fill(0);
  }
}

/**
 * Encrypts `account` with `password` and writes it to `<dir>/<address>`
 * (mode 0600) atomically, creating `dir` (mode 0700) when missing. An existing
 * file for the same account is replaced. Returns the file's path.
 *
 * @example
 * ```ts
 * import { Account } from "../chain/account.ts";
 * import { readKey, writeKey } from "./key_store.ts";
 * const dir = await Deno.makeTempDir();
 * const acc = Account.create();
 * await writeKey(dir, acc, "secret password");
 * await readKey(dir, acc.address, "secret password");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeKey(
  dir: string,
  account: Account,
  password: string,
): Promise<string> {
  const data = await encryptKey(account, password);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, account.address);
  await writeFileAtomic(path, data, { mode: 0o600 });
  return path;
}

/**
 * Reads and decrypts the key of `address` from `dir`. Throws a
 * {@link KeyStoreError} when there is no such key, the password is wrong, or
 * the file is damaged.
 *
 * @example
 * ```ts
 * import { Account } from "../chain/account.ts";
 * import { readKey, writeKey } from "./key_store.ts";
 * const dir = await Deno.makeTempDir();
 * const acc = Account.create();
 * await writeKey(dir, acc, "secret password");
 * (await readKey(dir, acc.address, "secret password")).address; // acc.address
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readKey(
  dir: string,
  address: string,
  password: string,
): Promise<Account> {
  const addr = address.toLowerCase();
  if (!ADDRESS_RE.test(addr)) {
    throw new KeyStoreError(
      "invalid-address",
      `invalid account address ${JSON.stringify(address)}: ` +
        "expected 64 hex characters",
    );
  }
  const path = join(dir, addr);
  let data: Uint8Array;
  try {
    data = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new KeyStoreError(
        "not-found",
        `no key for account ${addr} in ${dir}`,
        `no key for account ${addr} in the key store`,
      );
    }
    throw e;
  }
  const account = await decryptNamed(
    data,
    password,
    `key file ${path}`,
    `the key file of account ${addr}`,
  );
  if (account.address !== addr) {
    throw new KeyStoreError(
      "damaged",
      `key file ${path} holds the key of account ${account.address}`,
      `the key file of account ${addr} holds the key of account ${account.address}`,
    );
  }
  return account;
}

/**
 * The addresses that have a key file in `dir` (file names of 64 lowercase
 * hex characters), sorted; empty when `dir` does not exist.
 *
 * @example
 * ```ts
 * import { listKeys } from "./key_store.ts";
 * await listKeys("/no/such/dir"); // []
 * ```
 */
export async function listKeys(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && ADDRESS_RE.test(e.name)) out.push(e.name);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return out.sort();
}

/**
 * Refuses a password shorter than {@link MIN_PASSWORD_BYTES} UTF-8 bytes
 * with a `short-password` {@link KeyStoreError}, `NAME must be at least 5
 * bytes`; `name` says which password (default `password`).
 *
 * @example
 * ```ts
 * import { checkPassword } from "./key_store.ts";
 * import { messageOf } from "../util/errors.ts";
 *
 * checkPassword("secret password"); // fine
 * try {
 *   checkPassword("abc", "owner password");
 * } catch (e) {
 *   console.log(messageOf(e)); // owner password must be at least 5 bytes
 * }
 * ```
 */
export function checkPassword(password: string, name = "password"): void {
  if (encodeUtf8(password).length < MIN_PASSWORD_BYTES) {
    throw new KeyStoreError(
      "short-password",
      `${name} must be at least ${MIN_PASSWORD_BYTES} bytes`,
    );
  }
}
