/**
 * `bcn account ...`: create an account in a node's key store, read a balance.
 *
 * @module
 */
import { Code } from "@connectrpc/connect";
import { encodeString, encodeU64, parseHash } from "../chain/json.ts";
import { parseFlags, requireString } from "./args.ts";
import { requireNode, withNode } from "./rpc_errors.ts";

/** Help for `bcn account create`. */
export const ACCOUNT_CREATE_HELP =
  `Usage: bcn account create --node HOST:PORT --ownerpass PASS [--json]

Creates an account in the node's key store, its key encrypted with the
password, and prints its address:
  acc <address>
With --json: {"address":"<address>"}

Flags:
  --node HOST:PORT   the node to ask (required)
  --ownerpass PASS   password of the new account, 5 bytes or more
                     (required; or BCN_OWNERPASS)
  --json             machine-readable output
`;

/** Help for `bcn account balance`. */
export const ACCOUNT_BALANCE_HELP =
  `Usage: bcn account balance --node HOST:PORT --account ADDRESS [--json]

Prints the confirmed balance of an account:
  acc <address>: <balance>
With --json: {"address":"<address>","balance":<balance>}
An account that has never held a balance is an error.

Flags:
  --node HOST:PORT    the node to ask (required)
  --account ADDRESS   the account (required)
  --json              machine-readable output
`;

const CREATE_FLAGS = {
  node: { type: "string" },
  ownerpass: { type: "string", env: "BCN_OWNERPASS" },
  json: { type: "boolean" },
} as const;

const BALANCE_FLAGS = {
  node: { type: "string" },
  account: { type: "string" },
  json: { type: "boolean" },
} as const;

/**
 * The output line of `bcn account create`.
 *
 * @example
 * ```ts
 * import { formatAccountCreated } from "./account.ts";
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
 * import { formatBalance } from "./account.ts";
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

/** Runs `bcn account create`. */
export async function accountCreate(args: string[]): Promise<void> {
  const flags = parseFlags(args, CREATE_FLAGS);
  if (flags.help) {
    console.log(ACCOUNT_CREATE_HELP);
    return;
  }
  const node = requireNode(flags);
  const password = requireString(flags, "ownerpass");
  const address = await withNode(node, async ({ account }) => {
    const res = await account.accountCreate({ Password: password });
    return parseHash(res.Address, "Address");
  }, { labels: { [Code.ResourceExhausted]: "refused" } });
  console.log(formatAccountCreated(address, flags.json === true));
}

/** Runs `bcn account balance`. */
export async function accountBalance(args: string[]): Promise<void> {
  const flags = parseFlags(args, BALANCE_FLAGS);
  if (flags.help) {
    console.log(ACCOUNT_BALANCE_HELP);
    return;
  }
  const node = requireNode(flags);
  const address = requireString(flags, "account");
  const balance = await withNode(node, async ({ account }) => {
    const res = await account.accountBalance({ Address: address });
    return res.Balance;
  }, { labels: { [Code.NotFound]: "unknown account" } });
  console.log(formatBalance(address, balance, flags.json === true));
}

/** The `bcn account ...` commands, keyed as in `main.ts`. */
export const ACCOUNT_COMMANDS: Record<
  string,
  (args: string[]) => Promise<void>
> = {
  "account create": accountCreate,
  "account balance": accountBalance,
};

/** Help texts of the `bcn account ...` commands, keyed like the commands. */
export const ACCOUNT_HELP: Record<string, string> = {
  "account create": ACCOUNT_CREATE_HELP,
  "account balance": ACCOUNT_BALANCE_HELP,
};
