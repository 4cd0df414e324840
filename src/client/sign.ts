/**
 * Signing a transfer on this machine, with a key from a key-store directory
 * and its password: nothing but the signed transaction leaves the process.
 *
 * @module
 */
import { U64_MAX } from "../chain/json.ts";
import { type Time, timeNow } from "../chain/time.ts";
import type { SigTx } from "../chain/tx.ts";
import type { Account } from "../chain/account.ts";
import {
  checkPassword as checkStorePassword,
  KeyStoreError,
  readKey,
} from "../store/key_store.ts";
import { checkAddress, InputError } from "./call_errors.ts";

/** A transfer to sign: who pays whom how much. */
export interface Transfer {
  /** The sender's address, 64 hex characters. */
  from: string;
  /** The receiver: usually an address, any non-empty string is accepted. */
  to: string;
  /** The amount, an unsigned 64-bit integer. */
  value: bigint;
  /**
   * The sender's nonce: its previous transaction's + 1. Required by
   * {@link signTransfer}; `Client.sign` asks the node when it is absent.
   */
  nonce?: bigint;
  /** When the transaction is made; now by default. */
  time?: Time;
}

/** Where the sender's key is and how to open it. */
export interface KeySource {
  /** The key-store directory holding the sender's key file. */
  keyStore: string;
  /** The key's password; it never leaves this process. */
  password: string;
}

/**
 * Checks a transfer's fields, before any call or key read: the sender's
 * and a receiver address (64 hex characters: a typo must not send funds
 * where no key can spend them), a value (and nonce, when given) within an
 * unsigned 64-bit integer; an {@link InputError} naming the field otherwise.
 * Returns both addresses lowercased.
 *
 * @example
 * ```ts
 * import { checkTransfer } from "./sign.ts";
 *
 * checkTransfer({ from: "AB".repeat(32), to: "cd".repeat(32), value: 5n });
 * // { from: "abab...", to: "cdcd..." }
 * ```
 */
export function checkTransfer(
  transfer: Omit<Transfer, "nonce" | "time"> & { nonce?: bigint },
): { from: string; to: string } {
  const from = checkAddress(transfer.from, "from");
  const to = checkAddress(transfer.to, "to");
  checkU64(transfer.value, "value");
  if (transfer.nonce !== undefined) checkU64(transfer.nonce, "nonce");
  return { from, to };
}

function checkU64(n: bigint, what: string): void {
  if (typeof n !== "bigint" || n < 0n || n > U64_MAX) {
    throw new InputError(
      `${what}: expected an unsigned 64-bit integer, got ${String(n)}`,
    );
  }
}

/**
 * A password checked the way a key store checks it (at least 5 bytes), so
 * one that can open no key is refused before any call or key read; an
 * {@link InputError} naming `what` otherwise. The message never holds the
 * password.
 *
 * @example
 * ```ts
 * import { checkPasswordInput } from "./sign.ts";
 *
 * checkPasswordInput("a good password"); // fine
 * try {
 *   checkPasswordInput("abc");
 * } catch (e) {
 *   console.log(String(e)); // InputError: password must be at least 5 bytes
 * }
 * ```
 */
export function checkPasswordInput(password: string, what = "password"): void {
  if (typeof password !== "string") {
    throw new InputError(`${what}: expected a string`);
  }
  try {
    checkStorePassword(password, what);
  } catch (e) {
    if (e instanceof KeyStoreError) throw new InputError(e.message);
    throw e;
  }
}

/**
 * The sender's key, read from `key.keyStore` and decrypted on this
 * machine: a {@link signTransfer} without the signing, so a caller can open
 * the key before it asks a node anything (a wrong password then costs no
 * call). Throws an {@link InputError} for a short password and a
 * `KeyStoreError` for a missing key or a wrong password.
 *
 * @example
 * ```ts
 * import { Account, writeKey } from "@bcn/bcn";
 * import { openSenderKey } from "./sign.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const alice = Account.create();
 * await writeKey(dir, alice, "alice's password");
 * const key = await openSenderKey(alice.address, { keyStore: dir, password: "alice's password" });
 * console.log(key.address === alice.address); // true
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openSenderKey(
  from: string,
  key: KeySource,
): Promise<Account> {
  checkPasswordInput(key.password);
  return await readKey(key.keyStore, checkAddress(from, "from"), key.password);
}

/**
 * Signs a transfer with the sender's key, read from `key.keyStore` and
 * decrypted with `key.password` on this machine; no node is involved. The
 * nonce must be given. Throws an {@link InputError} for a bad field and a
 * `KeyStoreError` for a missing key or a wrong password.
 *
 * @example
 * ```ts
 * import { Account, encodeSigTx, writeKey } from "@bcn/bcn";
 * import { signTransfer } from "@bcn/bcn/client";
 *
 * const dir = await Deno.makeTempDir();
 * const alice = Account.create();
 * await writeKey(dir, alice, "alice's password");
 * const tx = await signTransfer(
 *   { from: alice.address, to: Account.create().address, value: 5n, nonce: 1n },
 *   { keyStore: dir, password: "alice's password" },
 * );
 * console.log(encodeSigTx(tx));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function signTransfer(
  transfer: Transfer,
  key: KeySource,
): Promise<SigTx> {
  const { from, to } = checkTransfer(transfer);
  if (transfer.nonce === undefined) {
    throw new InputError("nonce: required to sign without a node");
  }
  const account = await openSenderKey(from, key);
  return account.signTx({
    from: account.address,
    to,
    value: transfer.value,
    nonce: transfer.nonce,
    time: transfer.time ?? timeNow(),
  });
}
