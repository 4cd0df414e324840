/**
 * Flag parsing for every command, in one place: `parseArgs` from `node:util`
 * today (JSR's `@std/cli` is not reachable here), so a later switch is one
 * file.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { closest } from "../util/edit_distance.ts";
import { messageOf } from "../util/errors.ts";

/** A mistake in the command line; printed as one line, exit code 1. */
export class UsageError extends Error {
  /** Creates a usage error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The flags a command accepts: `string` or `boolean`, with an env fallback. */
export interface FlagSpec {
  /** The kind of value. */
  type: "string" | "boolean";
  /** An environment variable read when the flag is absent. */
  env?: string;
  /**
   * A password's companion flag naming a file that holds it (such as
   * `ownerpass-file` for `ownerpass`, itself in the spec): the file is read
   * when the flag is absent, before the environment; both given is an error.
   */
  file?: string;
  /**
   * For a password the command always needs: what to ask for (`owner
   * password`) on a terminal when neither the flag, its file nor its
   * environment variable gives it.
   */
  prompt?: string;
}

/** Options of {@link parseFlags}. */
export interface ParseOptions {
  /**
   * Reads an environment variable; by default the process's, when it may
   * read it (see {@link readEnv}).
   */
  env?: (name: string) => string | undefined;
}

/** Parsed flag values by name. */
export type Flags = Record<string, string | boolean | undefined>;

/** Parses `args` strictly against `spec`; unknown flags and stray words are errors. */
export function parseFlags(
  args: string[],
  spec: Readonly<Record<string, FlagSpec>>,
  options: ParseOptions = {},
): Flags {
  const parseOptions: Record<string, { type: "string" | "boolean" }> = {
    help: { type: "boolean" },
  };
  for (const [name, s] of Object.entries(spec)) {
    parseOptions[name] = { type: s.type };
  }
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: parseOptions,
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new UsageError(
      cleanMessage(messageOf(e), Object.keys(parseOptions)),
    );
  }
  const values: Flags = { ...parsed.values };
  const env = options.env ?? readEnv;
  for (const [name, s] of Object.entries(spec)) {
    // A password file given beats the environment.
    const fromFile = s.file !== undefined && values[s.file] !== undefined;
    if (values[name] === undefined && s.env && !fromFile) {
      const v = env(s.env);
      if (v !== undefined && v !== "") values[name] = v;
    }
  }
  return values;
}

/**
 * An environment variable, or `undefined` when it is unset or the process
 * may not read it: a client command run with `--allow-net` alone then asks
 * for the flag instead of failing on a permission error.
 *
 * @example
 * ```ts
 * import { readEnv } from "./args.ts";
 *
 * readEnv("BCN_NODE"); // "127.0.0.1:1122", or undefined
 * ```
 */
export function readEnv(name: string): string | undefined {
  const access = Deno.permissions.querySync({ name: "env", variable: name });
  return access.state === "granted" ? Deno.env.get(name) : undefined;
}

// node:util's messages span lines and mention "args"; keep the first line
// and say it the way a CLI user expects.
function cleanMessage(msg: string, known: readonly string[]): string {
  const first = msg.split("\n")[0];
  const unknown = /Unknown option '([^']+)'/.exec(first);
  if (unknown) return unknownFlag(unknown[1], known);
  const missing = /Option '([^']*?)(?: <value>)?' argument missing/.exec(first);
  if (missing) {
    return `flag ${missing[1].split(",").pop()!.trim()} needs a value`;
  }
  const ambiguous = /Option '([^']+)' argument is ambiguous/.exec(first);
  if (ambiguous) {
    const flag = ambiguous[1].split(",").pop()!.trim();
    return `${flag}: a value starting with "-" must be written ${flag}=VALUE`;
  }
  const positional = /Unexpected argument '([^']+)'/.exec(first);
  if (positional) return `unexpected argument ${JSON.stringify(positional[1])}`;
  return first.replace(/\.$/, "");
}

/**
 * `unknown flag --jsn; did you mean --json?`, the suggestion only when a
 * flag of `known` is near enough.
 *
 * @example
 * ```ts
 * import { unknownFlag } from "./args.ts";
 *
 * unknownFlag("--jsn", ["json", "node"]); // "unknown flag --jsn; did you mean --json?"
 * ```
 */
export function unknownFlag(flag: string, known: readonly string[]): string {
  const name = flag.replace(/^-+/, "").split("=")[0];
  const near = flag.startsWith("--") ? closest(name, known) : undefined;
  return near === undefined
    ? `unknown flag ${flag}`
    : `unknown flag ${flag}; did you mean --${near}?`;
}

/** A required string flag, or a usage error naming it. */
export function requireString(flags: Flags, name: string): string {
  const v = flags[name];
  if (typeof v !== "string" || v === "") {
    throw new UsageError(`missing --${name}`);
  }
  return v;
}

/** An optional string flag. */
export function optionalString(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === "string" ? v : undefined;
}

/** Parses a u64 flag value; a usage error names the flag when it is not one. */
export function parseU64Flag(name: string, value: string): bigint {
  if (!/^(0|[1-9]\d{0,19})$/.test(value) || BigInt(value) >= 1n << 64n) {
    throw new UsageError(
      `--${name}: expected an unsigned 64-bit integer, got ${
        JSON.stringify(value)
      }`,
    );
  }
  return BigInt(value);
}

/** Parses a duration such as `5s`, `200ms`, `1m` into milliseconds. */
export function parseDuration(name: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value);
  const ms = m
    ? Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2]] ?? 0)
    : NaN;
  if (!m || !(ms >= 10) || ms > 3_600_000) {
    throw new UsageError(
      `--${name}: expected a duration from 10ms to 1h such as 5s or 200ms, got ${
        JSON.stringify(value)
      }`,
    );
  }
  return ms;
}

/**
 * The one flag of `names` that is given; a usage error when none or several
 * are (`give one of --a, --b and --c`, `give only one of ..., not --a and
 * --b`).
 *
 * @example
 * ```ts
 * import { oneOf } from "./args.ts";
 *
 * oneOf({ hash: "ab" }, ["number", "hash", "parent"]); // "hash"
 * ```
 */
export function oneOf<const N extends string>(
  flags: Flags,
  names: readonly N[],
): N {
  const given = names.filter((n) => flags[n] !== undefined);
  if (given.length !== 1) {
    const all = names.map((n) => `--${n}`);
    const list = `${all.slice(0, -1).join(", ")} and ${all.at(-1)}`;
    throw new UsageError(
      given.length === 0
        ? `give one of ${list}`
        : `give only one of ${list}, not ${
          given.map((n) => `--${n}`).join(" and ")
        }`,
    );
  }
  return given[0];
}
