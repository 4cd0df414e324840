/**
 * What the client commands share: a {@link Client} of the `--node` node for
 * the length of a command, and flags checked the way the client checks its
 * input, as usage errors naming the flag.
 *
 * @module
 */
import { Client } from "../client/client.ts";
import {
  checkAddress,
  checkHexPrefix,
  InputError,
} from "../client/call_errors.ts";
import { checkPasswordInput } from "../client/sign.ts";
import { UsageError } from "./args.ts";

/**
 * Runs `run` with a {@link Client} of node `addr` and closes it whatever
 * happens. The client's errors are already one line naming the node.
 *
 * @example
 * ```ts
 * import { withClient } from "./use_client.ts";
 *
 * const balance = await withClient(
 *   "127.0.0.1:1122",
 *   (client) => client.balance("ab".repeat(32)),
 * ).catch(() => undefined);
 * ```
 */
export async function withClient<T>(
  addr: string,
  run: (client: Client) => Promise<T>,
): Promise<T> {
  await using client = new Client(addr);
  return await run(client);
}

/**
 * An address flag: 64 hex characters, returned lowercase; a usage error
 * naming the flag otherwise (`--account: invalid address "zz": expected 64
 * hex characters`), so a bad address never reaches the node.
 *
 * @example
 * ```ts
 * import { parseAddressFlag } from "./use_client.ts";
 *
 * parseAddressFlag("account", "AB".repeat(32)); // "abab..."
 * ```
 */
export function parseAddressFlag(name: string, value: string): string {
  return asUsage(() => checkAddress(value, `--${name}`));
}

/**
 * A hex prefix flag (such as `--hash abc`), returned lowercase; a usage
 * error naming the flag when it is empty, longer than 64 characters or not
 * hex (`--hash: expected a prefix of 1 to 64 hex characters, got "xyz"`).
 *
 * @example
 * ```ts
 * import { parseHexPrefix } from "./use_client.ts";
 *
 * parseHexPrefix("hash", "ABC"); // "abc"
 * ```
 */
export function parseHexPrefix(name: string, value: string): string {
  return asUsage(() => checkHexPrefix(value, `--${name}`));
}

/**
 * A password flag: at least 5 bytes, as a key store needs; a usage error
 * naming the flag otherwise (`--ownerpass must be at least 5 bytes`), so a
 * password that can open no key never reaches the node.
 *
 * @example
 * ```ts
 * import { parsePasswordFlag } from "./use_client.ts";
 *
 * parsePasswordFlag("ownerpass", "a good password"); // "a good password"
 * ```
 */
export function parsePasswordFlag(name: string, value: string): string {
  asUsage(() => checkPasswordInput(value, `--${name}`));
  return value;
}

/** Runs a check of the client's, its {@link InputError} as a usage error. */
function asUsage<T>(check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof InputError) throw new UsageError(e.message);
    throw e;
  }
}
