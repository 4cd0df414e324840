/**
 * Where a password comes from, in order: its flag (`--ownerpass PASS`), a
 * file (`--ownerpass-file FILE`, its first line), an environment variable
 * (`BCN_OWNERPASS`), else a prompt without echo when a terminal is
 * attached. The flag and its file together are an error.
 *
 * @module
 */
import { messageOf } from "../util/errors.ts";
import { type Flags, type FlagSpec, UsageError } from "./args.ts";
import { decodeUtf8 } from "../util/utf8.ts";

/** The longest first line read from a password file, in bytes. */
export const MAX_PASSWORD_FILE_LINE = 4096;

/**
 * The first line of password file `path` (its `\n` or `\r\n` stripped),
 * reading no more than {@link MAX_PASSWORD_FILE_LINE} bytes of it; a usage
 * error naming `flag` when the file is missing, unreadable, empty or its
 * first line is empty or too long.
 *
 * @example
 * ```ts ignore
 * import { readPasswordFile } from "./password.ts";
 *
 * await readPasswordFile("ownerpass-file", "owner.pass"); // "secret password"
 * ```
 */
export async function readPasswordFile(
  flag: string,
  path: string,
): Promise<string> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw new UsageError(`--${flag}: cannot read ${path}: ${ioReason(e)}`);
  }
  // Zeroed however this ends: it may hold the password, or the start of it.
  const buf = new Uint8Array(MAX_PASSWORD_FILE_LINE + 2);
  try {
    let size = 0;
    try {
      while (size < buf.length) {
        const n = await file.read(buf.subarray(size));
        if (n === null) break;
        size += n;
        if (buf.subarray(size - n, size).includes(0x0a)) break;
      }
    } catch (e) {
      throw new UsageError(`--${flag}: cannot read ${path}: ${ioReason(e)}`);
    } finally {
      file.close();
    }
    const bytes = buf.subarray(0, size);
    const end = bytes.indexOf(0x0a);
    let line = end < 0 ? bytes : bytes.subarray(0, end);
    if (line.at(-1) === 0x0d) line = line.subarray(0, -1);
    if (line.length > MAX_PASSWORD_FILE_LINE) {
      throw new UsageError(
        `--${flag}: the first line of ${path} is longer than ${MAX_PASSWORD_FILE_LINE} bytes`,
      );
    }
    const password = decodeUtf8(line);
    if (password === "") {
      throw new UsageError(
        size === 0
          ? `--${flag}: ${path} is empty`
          : `--${flag}: the first line of ${path} is empty`,
      );
    }
    return password;
  } finally {
    buf.fill(0);
  }
}

/** "not found", "permission denied", "is a directory": Deno's words, short. */
function ioReason(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such file";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.IsADirectory) return "it is a directory";
  return messageOf(e).replace(/ \(os error \d+\).*$/, "").toLowerCase();
}

/**
 * Fills in, in `flags`, each password of `spec` given by its file flag (see
 * {@link FlagSpec.file}); a usage error when the flag and its file are
 * both given (`give only one of --ownerpass and --ownerpass-file`).
 *
 * @example
 * ```ts ignore
 * import { readPasswordFiles } from "./password.ts";
 *
 * const flags = { "ownerpass-file": "owner.pass" };
 * await readPasswordFiles(flags, {
 *   ownerpass: { type: "string", file: "ownerpass-file" },
 *   "ownerpass-file": { type: "string" },
 * });
 * ```
 */
export async function readPasswordFiles(
  flags: Flags,
  spec: Readonly<Record<string, FlagSpec>>,
): Promise<void> {
  for (const [name, s] of Object.entries(spec)) {
    if (s.file === undefined) continue;
    const path = flags[s.file];
    if (typeof path !== "string") continue;
    if (flags[name] !== undefined) {
      throw new UsageError(`give only one of --${name} and --${s.file}`);
    }
    if (path === "") throw new UsageError(`--${s.file}: empty path`);
    flags[name] = await readPasswordFile(s.file, path);
  }
}

/** Reads one chunk of input bytes; `null` at its end. */
export type ByteReader = () => Promise<Uint8Array | null>;

/**
 * Reads one line typed on a terminal in raw mode, echoing nothing: Enter
 * ends it, Backspace removes a character, Ctrl-U clears the line, Ctrl-C
 * rejects with a usage error (`password prompt interrupted`), Ctrl-D or
 * the end of input on an empty line resolves to `undefined`. At most
 * {@link MAX_PASSWORD_FILE_LINE} bytes are kept.
 *
 * @example
 * ```ts
 * import { readSecretLine } from "./password.ts";
 *
 * const chunks = [new TextEncoder().encode("pa\x7fass\r")];
 * await readSecretLine(() => Promise.resolve(chunks.shift() ?? null)); // "pass"
 * ```
 */
export async function readSecretLine(
  read: ByteReader,
): Promise<string | undefined> {
  const bytes: number[] = [];
  try {
    for (;;) {
      const chunk = await read();
      if (chunk === null) {
        return bytes.length === 0 ? undefined : decodeUtf8(
          new Uint8Array(bytes),
        );
      }
      try {
        for (const b of chunk) {
          if (b === 0x0d || b === 0x0a) {
            return decodeUtf8(new Uint8Array(bytes));
          }
          if (b === 0x03) throw new UsageError("password prompt interrupted");
          if (b === 0x04) {
            if (bytes.length === 0) return undefined;
            continue;
          }
          if (b === 0x7f || b === 0x08) {
            // Drop a whole UTF-8 character: its continuation bytes first.
            while (bytes.length > 0 && (bytes.at(-1)! & 0xc0) === 0x80) {
              bytes.pop();
            }
            bytes.pop();
            continue;
          }
          if (b === 0x15) {
            bytes.fill(0);
            bytes.length = 0;
            continue;
          }
          if (bytes.length < MAX_PASSWORD_FILE_LINE) bytes.push(b);
        }
      } finally {
        // Typed-ahead bytes after Enter too.
        chunk.fill(0);
      }
    }
  } finally {
    bytes.fill(0);
  }
}

/** The signals that stop a command cleanly (Ctrl-C, and SIGTERM off Windows). */
export const STOP_SIGNALS: readonly Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT"]
  : ["SIGINT", "SIGTERM"];

/** What {@link promptSecret} uses of the terminal. */
export interface SecretTerminal {
  /** Whether input comes from a terminal (else nothing is asked). */
  isTerminal(): boolean;
  /** Raw mode on (no echo, no line editing, no signal keys) or off. */
  setRaw(raw: boolean): void;
  /** Reads a chunk of what is typed. */
  read: ByteReader;
  /** Writes to the terminal (stderr). */
  write(text: string): Promise<void>;
  /**
   * Calls `handler` on a stop signal (SIGINT, SIGTERM) until the returned
   * function is called.
   */
  onStop(handler: () => void): () => void;
}

/** The process's terminal: stdin, stderr and {@link STOP_SIGNALS}. */
const STD_TERMINAL: SecretTerminal = {
  isTerminal: () => Deno.stdin.isTerminal(),
  setRaw: (raw) => Deno.stdin.setRaw(raw),
  read: async () => {
    const buf = new Uint8Array(256);
    const n = await Deno.stdin.read(buf);
    return n === null ? null : buf.subarray(0, n);
  },
  write: async (text) => {
    await Deno.stderr.write(new TextEncoder().encode(text));
  },
  onStop: (handler) => {
    for (const s of STOP_SIGNALS) Deno.addSignalListener(s, handler);
    return () => {
      for (const s of STOP_SIGNALS) Deno.removeSignalListener(s, handler);
    };
  },
};

/**
 * Asks for a password on the terminal, without echo: writes `label: ` to
 * stderr and reads a line from stdin in raw mode. `undefined` when stdin
 * is not a terminal (nothing is asked) or nothing was typed. A stop signal
 * meanwhile (`kill`: in raw mode Ctrl-C is a key, see
 * {@link readSecretLine}) fails it with `password prompt interrupted`;
 * however it ends, the terminal is out of raw mode again.
 *
 * @example
 * ```ts ignore
 * import { promptSecret } from "./password.ts";
 *
 * const password = await promptSecret("owner password");
 * ```
 */
export async function promptSecret(
  label: string,
  terminal: SecretTerminal = STD_TERMINAL,
): Promise<string | undefined> {
  if (!terminal.isTerminal()) return undefined;
  await terminal.write(`${label}: `);
  // The default action of a signal would end the process with the
  // terminal left in raw mode (no echo): listen while it is.
  let stopListening = () => {};
  try {
    const stopped = new Promise<never>((_, reject) => {
      stopListening = terminal.onStop(() =>
        reject(new UsageError("password prompt interrupted"))
      );
    });
    terminal.setRaw(true);
    return await Promise.race([readSecretLine(terminal.read), stopped]);
  } finally {
    stopListening();
    terminal.setRaw(false);
    await terminal.write("\n");
  }
}

/** Asks for a password by its label; `undefined` when nothing can be asked. */
export type SecretPrompt = (label: string) => Promise<string | undefined>;

/**
 * A password a command needs: `flags[name]` (from its flag, its file or its
 * environment variable), else what `prompt` gets, else a usage error
 * naming the flag and what it is for (`missing --ownerpass: ...`).
 *
 * @example
 * ```ts
 * import { requirePassword } from "./password.ts";
 *
 * await requirePassword({ ownerpass: "secret" }, "ownerpass", {
 *   label: "owner password",
 * }); // "secret"
 * ```
 */
export async function requirePassword(
  flags: Flags,
  name: string,
  options: { label: string; prompt?: SecretPrompt; why?: string },
): Promise<string> {
  const given = flags[name];
  if (typeof given === "string" && given !== "") return given;
  const typed = await options.prompt?.(options.label);
  if (typed !== undefined && typed !== "") {
    flags[name] = typed;
    return typed;
  }
  throw new UsageError(
    `missing --${name}${options.why === undefined ? "" : `: ${options.why}`}`,
  );
}
