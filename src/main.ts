/**
 * The `bcn` command: a proof-of-authority blockchain node and its client.
 *
 * @module
 */
import { firstLine } from "./util/errors.ts";
import denoJson from "../deno.json" with { type: "json" };
import { type Io, runCommand, STD_IO } from "./cli/command.ts";
import { findCommand, groupHelp, isGroup, mainHelp } from "./cli/table.ts";

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
 * const code = await main(["--version"], {
 *   io: {
 *     out: (t) => lines.push(t),
 *     err: (t) => lines.push(t),
 *     readInput: () => Promise.resolve(""),
 *   },
 * });
 * console.log(code, lines); // 0 [ "bcn 0.1.0" ]
 * ```
 */
export async function main(
  args: string[],
  options: { io?: Io } = {},
): Promise<number> {
  const io = options.io ?? STD_IO;
  if (args.length === 0 || args[0] === "--help" || args[0] === "-h") {
    io.out(mainHelp(VERSION));
    return args.length === 0 ? 1 : 0;
  }
  if (args[0] === "--version") {
    io.out(`bcn ${VERSION}`);
    return 0;
  }
  const found = findCommand(args);
  if (!found) {
    const group = isGroup(args[0]);
    if (group && [undefined, "--help", "-h"].includes(args[1])) {
      io.out(groupHelp(args[0]));
      return args[1] === undefined ? 1 : 0;
    }
    const key = group ? args.slice(0, 2).join(" ") : args[0];
    io.err(`bcn: unknown command ${JSON.stringify(key)}; run 'bcn --help'`);
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

function isBug(e: Error): boolean {
  return e instanceof TypeError || e instanceof ReferenceError ||
    e instanceof SyntaxError;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
