/**
 * The `bcn` command: a proof-of-authority blockchain node and its client.
 *
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };
import { ACCOUNT_COMMANDS } from "./cli/account.ts";
import { BLOCK_COMMANDS } from "./cli/block.ts";
import { dev } from "./cli/dev.ts";
import { nodeStart } from "./cli/node.ts";
import { nodeStatus } from "./cli/status.ts";
import { SUBSCRIBE_COMMANDS } from "./cli/subscribe.ts";
import { TX_COMMANDS } from "./cli/tx.ts";

/** The version of bcn, from deno.json. */
export const VERSION: string = denoJson.version;

const HELP = `bcn ${VERSION}: a proof-of-authority blockchain node and client

Usage: bcn COMMAND [flags]

Commands:
  dev              start a local network with funded accounts, in one command
  node start       start a bootstrap or regular node
  node subscribe   print a node's validated blocks and transactions as they come
  node status      print what a node says about itself (chain, block, peers, health)
  account create   create an account in a node's key store
  account balance  print an account's balance
  tx sign          have a node sign a transfer with a key it holds
  tx send          send a signed transaction to a node
  tx search        find confirmed transactions by hash, sender or receiver
  tx prove         print the Merkle proof of a confirmed transaction
  tx verify        check a Merkle proof against a Merkle root
  block search     find a confirmed block by number, hash or parent

Run 'bcn COMMAND --help' for a command's flags.
Flags: --help, --version
`;

type Command = (args: string[]) => Promise<void>;

const COMMANDS: Record<string, Command> = {
  "dev": dev,
  "node start": nodeStart,
  "node status": nodeStatus,
  ...SUBSCRIBE_COMMANDS,
  ...ACCOUNT_COMMANDS,
  ...TX_COMMANDS,
  ...BLOCK_COMMANDS,
};

/**
 * Runs the CLI with `args`; returns the exit code. User errors are one line
 * on stderr and exit code 1.
 */
export async function main(args: string[]): Promise<number> {
  if (args.length === 0 || args[0] === "--help" || args[0] === "-h") {
    console.log(HELP);
    return args.length === 0 ? 1 : 0;
  }
  if (args[0] === "--version") {
    console.log(`bcn ${VERSION}`);
    return 0;
  }
  // `bcn dev` is one word; every other command is a group and a verb.
  const words = Object.hasOwn(COMMANDS, args[0]) ? 1 : 2;
  const key = args.slice(0, words).join(" ");
  const command = Object.hasOwn(COMMANDS, key) ? COMMANDS[key] : undefined;
  if (!command) {
    const group = Object.keys(COMMANDS).some((c) =>
      c.startsWith(args[0] + " ")
    );
    if (group && [undefined, "--help", "-h"].includes(args[1])) {
      console.log(groupHelp(args[0]));
      return args[1] === undefined ? 1 : 0;
    }
    console.error(
      `bcn: unknown command ${
        JSON.stringify(group ? key : args[0])
      }; run 'bcn --help'`,
    );
    return 1;
  }
  try {
    await command(args.slice(words));
    return 0;
  } catch (e) {
    // Programming errors keep their stack trace; everything else is a
    // one-line message a user can act on.
    if (e instanceof Error && !isBug(e)) {
      console.error(`bcn: ${e.message.split("\n")[0]}`);
      return 1;
    }
    throw e;
  }
}

/** The usage of a command group: its lines of the command list. */
function groupHelp(group: string): string {
  const lines = HELP.split("\n").filter((l) => l.startsWith(`  ${group} `));
  return `Usage: bcn ${group} COMMAND [flags]\n\nCommands:\n${
    lines.join("\n")
  }\n\nRun 'bcn ${group} COMMAND --help' for a command's flags.\n`;
}

function isBug(e: Error): boolean {
  return e instanceof TypeError || e instanceof ReferenceError ||
    e instanceof SyntaxError;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
