/**
 * The text output shared by several commands: accounts and transactions.
 *
 * @module
 */
import { encodeString, encodeU64 } from "../chain/json.ts";
import { type SigTx, txHash } from "../chain/tx.ts";

/**
 * An account in text output: an address (64 lowercase hex) shortened to its
 * first 7 characters; another name in full, quoted as a JSON string when it
 * holds more than letters, digits and `._:@+-`.
 *
 * @example
 * ```ts
 * import { shortAccount } from "./format.ts";
 *
 * shortAccount("ab".repeat(32)); // "abababa"
 * shortAccount("bob"); // "bob"
 * shortAccount("bob smith"); // '"bob smith"'
 * ```
 */
export function shortAccount(account: string): string {
  if (/^[0-9a-f]{64}$/.test(account)) return account.slice(0, 7);
  if (/^[\w.:@+-]+$/.test(account)) return account;
  return encodeString(account);
}

/**
 * One transaction in text output:
 * `tx <hash>: <from7> -> <to7> <value> nonce <nonce>`.
 *
 * @example
 * ```ts
 * import { decodeSigTx } from "../chain/tx.ts";
 * import { formatTx } from "./format.ts";
 *
 * const tx = decodeSigTx('{"from":"a","to":"b","value":5,"nonce":1,"time":"2024-01-01T00:00:00Z","sig":""}');
 * formatTx(tx); // "tx <hash>: a -> b 5 nonce 1"
 * ```
 */
export function formatTx(tx: SigTx): string {
  return `tx ${txHash(tx)}: ${shortAccount(tx.from)} -> ${
    shortAccount(tx.to)
  } ${encodeU64(tx.value)} nonce ${encodeU64(tx.nonce)}`;
}
