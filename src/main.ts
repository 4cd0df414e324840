/**
 * The `bcn` command: a proof-of-authority blockchain node and its client.
 *
 * @module
 */
import { firstLine } from "./util/errors.ts";
import denoJson from "../deno.json" with { type: "json" };
import { type Io, runCommand, STD_IO } from "./cli/command.ts";
import {
  findCommand,
  groupHelp,
  isGroup,
  mainHelp,
  unknownCommand,
} from "./cli/table.ts";

export type { Io };

/** The version of bcn, from deno.json. */
export const VERSION: string = denoJson.version;

/**
 * Runs the CLI with `args`; returns the exit code. Results go to `io.out`
 * (stdout by default); user errors are one line on `io.err` (stderr) and
 * exit code 1.
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 *
 * const lines: string[] = [];
 * const code = await main(["tx", "send", "--help"], {
 *   io: {
 *     out: (t) => lines.push(t),
 *     err: (t) => lines.push(t),
 *     readInput: () => Promise.resolve(""),
 *   },
 * });
 * console.log(code, lines[0]); // 0 "Usage: bcn tx send --node HOST:PORT ..."
 * ```
 */
export async function main(
  args: string[],
  options: { io?: Io } = {},
): Promise<number> {
  const io = options.io ?? STD_IO;
  if (args.length === 0 || args[0] === "--help" || args[0] === "-h") {
    io.out(mainHelp(VERSION));
    return 0;
  }
  if (["--version", "-V", "version"].includes(args[0])) {
    io.out(versionLine());
    return 0;
  }
  if (args[0] === "help") return help(args.slice(1), io);
  const found = findCommand(args);
  if (!found) {
    const group = isGroup(args[0]);
    if (group && [undefined, "--help", "-h"].includes(args[1])) {
      io.out(groupHelp(args[0]));
      return args[1] === undefined ? 1 : 0;
    }
    io.err(`bcn: ${unknownCommand(args)}`);
    return 1;
  }
  try {
    await runCommand(found.command, args.slice(found.words), io);
    return 0;
  } catch (e) {
    // Programming errors keep their stack trace; everything else is a
    // one-line message a user can act on.
    if (e instanceof Error && !isBug(e)) {
      io.err(`bcn: ${firstLine(e.message)}`);
      return 1;
    }
    throw e;
  }
}

/**
 * What `bcn --version` prints: bcn's version and the Deno it runs on.
 *
 * @example
 * ```ts
 * import { versionLine } from "./main.ts";
 *
 * versionLine(); // "bcn 0.1.0 (deno 2.9.6)"
 * ```
 */
export function versionLine(): string {
  return `bcn ${VERSION} (deno ${Deno.version.deno})`;
}

/** `bcn help [COMMAND]`: the command list, a group's or a command's help. */
function help(words: string[], io: Io): number {
  if (words.length === 0 || ["--help", "-h"].includes(words[0])) {
    io.out(mainHelp(VERSION));
    return 0;
  }
  const found = findCommand(words);
  if (found && found.words === words.length) {
    io.out(found.command.help);
    return 0;
  }
  if (words.length === 1 && isGroup(words[0])) {
    io.out(groupHelp(words[0]));
    return 0;
  }
  io.err(`bcn: ${unknownCommand(words)}`);
  return 1;
}

function isBug(e: Error): boolean {
  return e instanceof TypeError || e instanceof ReferenceError ||
    e instanceof SyntaxError;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
