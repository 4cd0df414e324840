/**
 * The table of `bcn`'s commands, in the order `bcn --help` lists them, and
 * the help texts built from it.
 *
 * @module
 */
import { ACCOUNT_COMMANDS } from "./account.ts";
import { BLOCK_COMMANDS } from "./block.ts";
import type { Command } from "./command.ts";
import { DEV } from "./dev.ts";
import { NODE_COMMANDS } from "./node.ts";
import { TX_COMMANDS } from "./tx.ts";

/** Every `bcn` command, in `bcn --help` order. */
export const COMMANDS: readonly Command[] = [
  DEV,
  ...NODE_COMMANDS,
  ...ACCOUNT_COMMANDS,
  ...TX_COMMANDS,
  ...BLOCK_COMMANDS,
];

/**
 * The command named by the first words of `args` (`dev` is one word, every
 * other command a group and a verb), with the number of words its name
 * takes; `undefined` when there is none.
 *
 * @example
 * ```ts
 * import { findCommand } from "./table.ts";
 *
 * findCommand(["tx", "send", "--json"])?.command.name; // "tx send"
 * ```
 */
export function findCommand(
  args: readonly string[],
): { command: Command; words: number } | undefined {
  for (const command of COMMANDS) {
    const words = command.name.split(" ");
    if (words.every((w, i) => args[i] === w)) {
      return { command, words: words.length };
    }
  }
  return undefined;
}

/**
 * Whether `word` is a command group, such as `tx` in `tx send`.
 *
 * @example
 * ```ts
 * import { isGroup } from "./table.ts";
 *
 * isGroup("tx"); // true
 * isGroup("dev"); // false
 * ```
 */
export function isGroup(word: string): boolean {
  return COMMANDS.some((c) => c.name.startsWith(word + " "));
}

/** The lines of the command list of `bcn --help` for `commands`. */
function commandLines(commands: readonly Command[]): string[] {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
}

/**
 * The text of `bcn --help`.
 *
 * @example
 * ```ts
 * import { mainHelp } from "./table.ts";
 *
 * mainHelp("0.1.0").split("\n")[0]; // "bcn 0.1.0: a proof-of-authority ..."
 * ```
 */
export function mainHelp(version: string): string {
  return `bcn ${version}: a proof-of-authority blockchain node and client

Usage: bcn COMMAND [flags]

Commands:
${commandLines(COMMANDS).join("\n")}

Run 'bcn COMMAND --help' for a command's flags.
Flags: --help, --version
`;
}

/**
 * The usage of a command group: its lines of the command list.
 *
 * @example
 * ```ts
 * import { groupHelp } from "./table.ts";
 *
 * groupHelp("tx").split("\n")[0]; // "Usage: bcn tx COMMAND [flags]"
 * ```
 */
export function groupHelp(group: string): string {
  const lines = commandLines(
    COMMANDS.filter((c) => c.name.startsWith(group + " ")),
  );
  return `Usage: bcn ${group} COMMAND [flags]\n\nCommands:\n${
    lines.join("\n")
  }\n\nRun 'bcn ${group} COMMAND --help' for a command's flags.\n`;
}
