/**
 * `bcn account ...`: create an account in a node's key store, read a balance.
 *
 * @module
 */
import { encodeString, encodeU64 } from "../chain/json.ts";
import { requireString } from "./args.ts";
import { clientCommand, type Command } from "./command.ts";
import {
  parseAddressFlag,
  parsePasswordFlag,
  withClient,
} from "./use_client.ts";

/**
 * The output line of `bcn account create`.
 *
 * @example
 * ```ts
 * import { formatAccountCreated } from "./account_commands.ts";
 *
 * formatAccountCreated("ab12", false); // "acc ab12"
 * formatAccountCreated("ab12", true); // '{"address":"ab12"}'
 * ```
 */
export function formatAccountCreated(address: string, json: boolean): string {
  return json ? `{"address":${encodeString(address)}}` : `acc ${address}`;
}

/**
 * The output line of `bcn account balance`.
 *
 * @example
 * ```ts
 * import { formatBalance } from "./account_commands.ts";
 *
 * formatBalance("ab12", 5n, false); // "acc ab12: 5"
 * formatBalance("ab12", 5n, true); // '{"address":"ab12","balance":5}'
 * ```
 */
export function formatBalance(
  address: string,
  balance: bigint,
  json: boolean,
): string {
  return json
    ? `{"address":${encodeString(address)},"balance":${encodeU64(balance)}}`
    : `acc ${address}: ${encodeU64(balance)}`;
}

/** `bcn account create`. */
export const ACCOUNT_CREATE: Command = clientCommand({
  name: "account create",
  summary: "create an account in a node's key store",
  flags: {
    ownerpass: {
      type: "string",
      env: "BCN_OWNERPASS",
      file: "ownerpass-file",
      prompt: "password of the new account",
    },
    "ownerpass-file": { type: "string" },
    json: { type: "boolean" },
  },
  help: `Usage: bcn account create --node HOST:PORT --ownerpass PASS [--json]

Creates an account in the node's key store, its key encrypted with the
password, and prints its address:
  acc <address>
With --json: {"address":"<address>"}

Flags:
  --node HOST:PORT   the node to ask (required; or BCN_NODE)
  --ownerpass PASS   password of the new account, 5 bytes or more
                     (required; or BCN_OWNERPASS, or asked on a terminal)
  --ownerpass-file FILE
                     read the password from the first line of FILE
  --json             machine-readable output
`,
  async run({ node, flags }, io) {
    const password = parsePasswordFlag(
      "ownerpass",
      requireString(flags, "ownerpass"),
    );
    const address = await withClient(
      node,
      (client) => client.createAccount(password),
    );
    io.out(formatAccountCreated(address, flags.json === true));
  },
});

/** `bcn account balance`. */
export const ACCOUNT_BALANCE: Command = clientCommand({
  name: "account balance",
  summary: "print an account's balance",
  flags: {
    account: { type: "string" },
    json: { type: "boolean" },
  },
  help: `Usage: bcn account balance --node HOST:PORT --account ADDRESS [--json]

Prints the confirmed balance of an account:
  acc <address>: <balance>
With --json: {"address":"<address>","balance":<balance>}
An account that has never held a balance is an error.

Flags:
  --node HOST:PORT    the node to ask (required; or BCN_NODE)
  --account ADDRESS   the account (required)
  --json              machine-readable output
`,
  async run({ node, flags }, io) {
    const address = parseAddressFlag(
      "account",
      requireString(flags, "account"),
    );
    const balance = await withClient(
      node,
      (client) => client.balance(address),
    );
    io.out(formatBalance(address, balance, flags.json === true));
  },
});

/** The `bcn account ...` commands, in `bcn --help` order. */
export const ACCOUNT_COMMANDS: readonly Command[] = [
  ACCOUNT_CREATE,
  ACCOUNT_BALANCE,
];
