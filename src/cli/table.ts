/**
 * The table of `bcn`'s commands, in the order `bcn --help` lists them, and
 * the help texts built from it.
 *
 * @module
 */
import { ACCOUNT_COMMANDS } from "./account_commands.ts";
import { BLOCK_COMMANDS } from "./block_commands.ts";
import type { Command } from "./command.ts";
import { DEV } from "./dev.ts";
import { NODE_COMMANDS } from "./node_commands.ts";
import { TX_COMMANDS } from "./tx_commands.ts";
import { closest } from "../util/edit_distance.ts";

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

Run 'bcn COMMAND --help' or 'bcn help COMMAND' for a command's flags.
Flags: --help, --version (or 'bcn version')
Environment: BCN_NODE is the default --node of the client commands;
BCN_AUTHPASS and BCN_OWNERPASS give the passwords not given by flag.
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

/** The words `bcn` takes besides the commands' names. */
const OTHER_WORDS = ["help", "version"];

/**
 * The error for `args` that name no command: `unknown command "tx sned";
 * did you mean "tx send"?` when a command's name is near (see
 * {@link closest}), else `unknown command "bogus"; run 'bcn --help'`.
 *
 * @example
 * ```ts
 * import { unknownCommand } from "./table.ts";
 *
 * unknownCommand(["tx", "sned", "--json"]); // 'unknown command "tx sned"; did you mean "tx send"?'
 * ```
 */
export function unknownCommand(args: readonly string[]): string {
  const words = args.filter((a, i) => i < 2 && !a.startsWith("-"));
  const names = COMMANDS.map((c) => c.name);
  const firstWords = [
    ...new Set([...names.map((n) => n.split(" ")[0]), ...OTHER_WORDS]),
  ];
  // A group and a verb ("tx sned", "tz send"), else one word ("dve").
  let key = words.join(" ");
  let near = words.length === 2 ? closest(key, names) : undefined;
  if (near === undefined && !isGroup(words[0] ?? "")) {
    key = words[0] ?? args[0] ?? "";
    near = closest(key, firstWords);
  }
  return near === undefined
    ? `unknown command ${JSON.stringify(key)}; run 'bcn --help'`
    : `unknown command ${JSON.stringify(key)}; did you mean ${
      JSON.stringify(near)
    }?`;
}
