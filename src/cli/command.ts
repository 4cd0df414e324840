/**
 * What a `bcn` command is: its name, flags and help as data, and a `run`
 * function writing to an injected {@link Io}. The opening every command
 * shares (parse the flags, answer `--help`, check `--node` for a client
 * command) is {@link runCommand}, written once.
 *
 * @module
 */
import {
  type Flags,
  type FlagSpec,
  parseFlags,
  readEnv,
  UsageError,
} from "./args.ts";
import { promptSecret, readPasswordFiles, STOP_SIGNALS } from "./password.ts";
import { requireNode } from "./rpc_errors.ts";

/** Where a command writes and reads: stdout, stderr and stdin by default. */
export interface Io {
  /** Writes a result line (several lines when `text` holds newlines). */
  out(text: string): void;
  /** Writes a diagnostic line, such as a node's log. */
  err(text: string): void;
  /** Reads the whole of the input, for flags given as `-`. */
  readInput(): Promise<string>;
  /**
   * Stops a command that runs until interrupted (a node, a subscription)
   * cleanly when aborted, as SIGINT and SIGTERM do.
   */
  readonly signal?: AbortSignal;
  /**
   * Asks for a password without echo (see {@link promptSecret}); absent, or
   * resolving to `undefined`, when no terminal is attached.
   */
  readonly promptSecret?: (label: string) => Promise<string | undefined>;
  /**
   * Reads an environment variable for a flag's fallback; the process's by
   * default (see {@link readEnv}).
   */
  readonly env?: (name: string) => string | undefined;
}

/**
 * The process's stdout, stderr and stdin.
 *
 * @example
 * ```ts
 * import { STD_IO } from "./command.ts";
 *
 * STD_IO.out("acc ab12"); // printed on stdout
 * ```
 */
export const STD_IO: Io = {
  out: (text) => console.log(text),
  err: (text) => console.error(text),
  readInput: () => new Response(Deno.stdin.readable).text(),
  promptSecret,
  env: readEnv,
};

/** One `bcn` command, as data and a `run` function. */
export interface Command {
  /** The words after `bcn`, such as `tx send`. */
  readonly name: string;
  /** What it does, one line of the `bcn --help` command list. */
  readonly summary: string;
  /** The flags it accepts (`--help` is always accepted). */
  readonly flags: Readonly<Record<string, FlagSpec>>;
  /** Its `--help` text. */
  readonly help: string;
  /** Runs it with parsed flags; throws a one-line error on failure. */
  run(flags: Flags, io: Io): Promise<void>;
}

/** What a client command's `run` gets besides its {@link Io}. */
export interface ClientCall {
  /** The `--node` address, checked. */
  readonly node: string;
  /** The parsed flags. */
  readonly flags: Flags;
}

/**
 * A client command: one that calls the node of its required `--node` flag
 * (`BCN_NODE` when absent), which is added to `flags` and checked before
 * `run` is called, before any other flag; then each password the command
 * always needs (a flag with {@link FlagSpec.prompt}) that no flag, file or
 * environment variable gave is asked for on the terminal.
 *
 * @example
 * ```ts
 * import { clientCommand } from "./command.ts";
 * import { withClient } from "./use_client.ts";
 *
 * const balance = clientCommand({
 *   name: "account balance",
 *   summary: "print an account's balance",
 *   flags: { account: { type: "string" } },
 *   help: "Usage: bcn account balance --node HOST:PORT --account ADDRESS\n",
 *   run: async ({ node, flags }, io) => {
 *     const balance = await withClient(
 *       node,
 *       (client) => client.balance(String(flags.account)),
 *     );
 *     io.out(`${balance}`);
 *   },
 * });
 * ```
 */
export function clientCommand(
  def: Omit<Command, "run"> & {
    run(call: ClientCall, io: Io): Promise<void>;
  },
): Command {
  return {
    name: def.name,
    summary: def.summary,
    flags: { node: { type: "string", env: "BCN_NODE" }, ...def.flags },
    help: def.help,
    run: async (flags, io) => {
      if (flags.node === undefined) {
        throw new UsageError("missing --node (or set BCN_NODE)");
      }
      const node = requireNode(flags);
      for (const [name, spec] of Object.entries(def.flags)) {
        if (spec.prompt === undefined || flags[name] !== undefined) continue;
        // Not typed: the command names the missing flag itself.
        const typed = await io.promptSecret?.(spec.prompt);
        if (typed) flags[name] = typed;
      }
      await def.run({ node, flags }, io);
    },
  };
}

/**
 * Runs `command` with its command-line `args` (the words after its name):
 * parses them strictly, prints the help for `--help`, else reads the
 * password files given (see {@link readPasswordFiles}) and calls `run`.
 *
 * @example
 * ```ts
 * import { type Command, runCommand } from "./command.ts";
 *
 * const hello: Command = {
 *   name: "hello",
 *   summary: "say hello",
 *   flags: {},
 *   help: "Usage: bcn hello\n",
 *   run: async (_flags, io) => io.out("hello"),
 * };
 * await runCommand(hello, ["--help"]); // prints "Usage: bcn hello"
 * ```
 */
export async function runCommand(
  command: Command,
  args: string[],
  io: Io = STD_IO,
): Promise<void> {
  const flags = parseFlags(args, command.flags, { env: io.env });
  if (flags.help) {
    io.out(command.help);
    return;
  }
  await readPasswordFiles(flags, command.flags);
  await command.run(flags, io);
}

export { STOP_SIGNALS };

/**
 * Calls `handler` on each of {@link STOP_SIGNALS} and on an abort of
 * `io.signal` (at once when it is already aborted), until the returned
 * function is called.
 *
 * @example
 * ```ts
 * import { onStop, STD_IO } from "./command.ts";
 *
 * const stop = new AbortController();
 * const removeListeners = onStop(STD_IO, () => stop.abort());
 * removeListeners();
 * ```
 */
export function onStop(io: Io, handler: () => void): () => void {
  for (const s of STOP_SIGNALS) Deno.addSignalListener(s, handler);
  io.signal?.addEventListener("abort", handler, { once: true });
  if (io.signal?.aborted) handler();
  return () => {
    for (const s of STOP_SIGNALS) Deno.removeSignalListener(s, handler);
    io.signal?.removeEventListener("abort", handler);
  };
}
