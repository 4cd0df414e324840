/**
 * Signing a transfer on this machine, with a key from a key-store directory
 * and its password: nothing but the signed transaction leaves the process.
 *
 * @module
 */
import { U64_MAX } from "../chain/json.ts";
import { type Time, timeNow } from "../chain/time.ts";
import type { SigTx } from "../chain/tx.ts";
import { readKey } from "../store/key_store.ts";
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
  const account = await readKey(key.keyStore, from, key.password);
  return account.signTx({
    from: account.address,
    to,
    value: transfer.value,
    nonce: transfer.nonce,
    time: transfer.time ?? timeNow(),
  });
}
