/**
 * Helpers for end-to-end tests that run the `bcn` CLI from source as a
 * child process: free ports, bounded waits on output, and processes that are
 * always stopped.
 *
 * Every wait here is bounded in time; a process that does not stop on
 * SIGTERM is killed.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TEST_ROOT } from "../support.ts";
import type { TestChain } from "../fixtures.ts";
import { blockBytes } from "../../src/chain/block.ts";
import { BlockStore } from "../../src/store/block_store.ts";
import { writeKey } from "../../src/store/key_store.ts";

/** The absolute path of the CLI entry point. */
export const MAIN_PATH: string = fileURLToPath(
  new URL("../../src/main.ts", import.meta.url),
);

/** The source directory (`src/`), which `bcn`'s workers read. */
export const SRC_DIR: string = fileURLToPath(
  new URL("../../src/", import.meta.url),
);

/** The project's deno.json (import map and lock file for the child). */
export const CONFIG_PATH: string = fileURLToPath(
  new URL("../../deno.json", import.meta.url),
);

/**
 * The permissions a `bcn` child process gets: what `bcn` needs (see the
 * README's permission table), scoped to the tests' temporary root and to
 * loopback.
 */
export const BCN_PERMISSIONS: readonly string[] = [
  // src/: the verification workers load their module from there.
  `--allow-read=${TEST_ROOT},${SRC_DIR}`,
  `--allow-write=${TEST_ROOT}`,
  "--allow-net=127.0.0.1,localhost",
  "--allow-env=BCN_NODE,BCN_AUTHPASS,BCN_OWNERPASS",
];

/**
 * The Deno that runs child processes: `deno` from `PATH`, by name, because
 * `deno task test` grants `--allow-run=deno` (a name, resolved on `PATH`;
 * `Deno.execPath()` may be the target of a symlink there and would not
 * match it).
 */
export const DENO = "deno";

/** Default bound of {@link BcnProcess.waitFor}. */
export const WAIT_TIMEOUT_MS = 30_000;

/** Default bound of {@link runBcn}. */
export const RUN_TIMEOUT_MS = 30_000;

/** How long {@link BcnProcess.stop} waits after SIGTERM before SIGKILL. */
export const STOP_TIMEOUT_MS = 10_000;

/** How a finished process ended. */
export interface BcnResult {
  /** The exit code (128 + n after signal n, as Deno reports it). */
  code: number;
  /** The signal that ended it, if any. */
  signal: Deno.Signal | null;
  /** Everything it wrote to stdout. */
  stdout: string;
  /** Everything it wrote to stderr. */
  stderr: string;
}

/** Options of {@link startBcn} and {@link runBcn}. */
export interface BcnOptions {
  /** The working directory of the process; the test's own by default. */
  cwd?: string;
  /** Runs it under `ulimit -n openFiles` (through `bash`). */
  openFiles?: number;
  /**
   * Extra environment variables. BCN_NODE, BCN_AUTHPASS and BCN_OWNERPASS
   * are set to the empty string (which bcn treats as absent) unless given
   * here, so a test never picks up the caller's node or passwords; TMPDIR
   * is the tests' root.
   */
  env?: Record<string, string>;
  /**
   * The hosts of `--allow-net` instead of `127.0.0.1,localhost`, e.g. to
   * listen on `0.0.0.0`.
   */
  net?: string;
  /**
   * Another checkout's `src/main.ts` to run instead of this one's (its
   * `deno.json` beside `src/`), e.g. to benchmark an older version.
   */
  main?: string;
}

/** A running `bcn` process; see {@link startBcn}. */
export interface BcnProcess {
  /** The process id. */
  readonly pid: number;
  /**
   * Resolves with stdout so far once `text` appears in it; rejects with the
   * output so far when `timeoutMs` passes or the process exits first.
   */
  waitFor(text: string, timeoutMs?: number): Promise<string>;
  /**
   * Resolves when the process exits by itself; rejects (after killing it)
   * when it is still running after `timeoutMs`.
   */
  waitExit(timeoutMs?: number): Promise<BcnResult>;
  /**
   * Sends `signal` (SIGTERM by default), waits for the exit, and sends
   * SIGKILL after {@link STOP_TIMEOUT_MS}. Safe to call more than once and
   * after the process has exited.
   */
  stop(signal?: Deno.Signal): Promise<BcnResult>;
  /**
   * Sends `signal` (e.g. SIGSTOP, SIGCONT) and returns at once; nothing
   * once the process has exited. Through the child's handle, which needs no
   * `--allow-run` for all programs, as `Deno.kill` would.
   */
  signal(signal: Deno.Signal): void;
  /** The output so far. */
  output(): { stdout: string; stderr: string };
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    return (listener.addr as Deno.NetAddr).port;
  } finally {
    listener.close();
  }
}

/**
 * The V8 flags `bcn` runs with (the `bcn` and `compile` tasks'): a small
 * young generation per isolate and a heap that grows by a fifth at a time
 * keep a node with verification workers small and its memory flat.
 * (`--optimize-for-size` kept it about 20 MB smaller, but its frequent full
 * collections cost a node about a tenth of its CPU under load.)
 */
export const BCN_V8_FLAGS: readonly string[] = [
  "--v8-flags=--max-semi-space-size=2,--heap-growing-percent=20",
];

function command(args: string[], options: BcnOptions): Deno.Command {
  const ulimit = options.openFiles === undefined ? [] : [
    "-c",
    `ulimit -n ${options.openFiles} && exec "$0" "$@"`,
    DENO,
  ];
  return new Deno.Command(ulimit.length > 0 ? "bash" : DENO, {
    args: [
      ...ulimit,
      "run",
      ...BCN_V8_FLAGS,
      ...BCN_PERMISSIONS.map((p) =>
        options.net !== undefined && p.startsWith("--allow-net=")
          ? `--allow-net=${options.net}`
          : p
      ),
      "--config",
      options.main?.replace(/src\/main\.ts$/, "deno.json") ?? CONFIG_PATH,
      options.main ?? MAIN_PATH,
      ...args,
    ],
    cwd: options.cwd,
    // A child's temporary files (`bcn dev`'s) go under the tests' root, the
    // only place it may write.
    env: {
      BCN_NODE: "",
      BCN_AUTHPASS: "",
      BCN_OWNERPASS: "",
      TMPDIR: TEST_ROOT,
      ...options.env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

function describe(what: string, out: { stdout: string; stderr: string }) {
  return `${what}\n--- stdout\n${out.stdout}--- stderr\n${out.stderr}---`;
}

function delay(ms: number): { promise: Promise<void>; cancel: () => void } {
  let id: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<void>((resolve) => {
    id = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(id) };
}

/**
 * A free loopback port below the usual ephemeral ranges (Linux 32768-60999,
 * BSD/macOS/Windows 49152-65535), so that no outgoing connection takes it
 * as its source port while a node is down: a node is restarted on the same
 * port, and connecting to a port in the ephemeral range that nobody listens
 * on can even connect a socket to itself. Falls back to {@link freePort}.
 */
export function stablePort(taken: readonly number[]): number {
  for (let i = 0; i < 100; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.includes(port)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    }
  }
  return freePort();
}

/**
 * The first of `n` consecutive loopback ports that were free a moment ago,
 * below the ephemeral range as in {@link stablePort}: for a command that
 * takes one port and uses the next ones too (`bcn dev`).
 *
 * @example
 * ```ts
 * import { freePorts } from "./helpers.ts";
 *
 * const base = freePorts(3); // base, base + 1 and base + 2 are free
 * ```
 */
export function freePorts(n: number): number {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const held: Deno.Listener[] = [];
    try {
      for (let i = 0; i < n; i++) {
        held.push(Deno.listen({ hostname: "127.0.0.1", port: base + i }));
      }
      return base;
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    } finally {
      for (const l of held) l.close();
    }
  }
  throw new Error(`no ${n} consecutive free ports`);
}

/** Options of {@link bootstrapArgs}. */
export interface BootstrapArgsOptions {
  /** The authority's and the owner's password; `"password"` by default. */
  password?: string;
  /** The owner's initial balance; 1000 by default. */
  balance?: bigint;
  /**
   * The stores go to `DIR/keystore` and `DIR/blockstore`; without it, to
   * `bcn`'s defaults in the working directory.
   */
  dir?: string;
}

/**
 * The arguments of `bcn node start` for a bootstrap node at `addr` that
 * creates a new chain; further flags (e.g. `--period`) go after them.
 *
 * @example
 * ```ts
 * import { bootstrapArgs } from "./helpers.ts";
 *
 * const args = [...bootstrapArgs("127.0.0.1:4000"), "--period", "1s"];
 * ```
 */
export function bootstrapArgs(
  addr: string,
  options: BootstrapArgsOptions = {},
): string[] {
  const { password = "password", balance = 1000n, dir } = options;
  return [
    "node",
    "start",
    "--node",
    addr,
    "--bootstrap",
    "--authpass",
    password,
    "--ownerpass",
    password,
    "--balance",
    String(balance),
    ...(dir === undefined ? [] : [
      "--keystore",
      join(dir, "keystore"),
      "--blockstore",
      join(dir, "blockstore"),
    ]),
  ];
}

/**
 * The arguments of `bcn node start` for a node at `node` (a port on
 * 127.0.0.1, or an address) whose stores are `DIR/keystore` and
 * `DIR/blockstore`: without `seed`, a bootstrap that unlocks its key with
 * `password` (and creates no owner); with it, a regular node that syncs
 * from `seed` (a port on 127.0.0.1, or an address). Further flags go after
 * them.
 *
 * @example
 * ```ts
 * import { nodeStartArgs } from "./helpers.ts";
 *
 * const boot = [...nodeStartArgs(4000, "/tmp/boot"), "--period", "1s"];
 * const regular = nodeStartArgs(4001, "/tmp/reg", 4000);
 * ```
 */
export function nodeStartArgs(
  node: number | string,
  dir: string,
  seed?: number | string,
  password = "password",
): string[] {
  const address = (a: number | string) =>
    typeof a === "number" ? `127.0.0.1:${a}` : a;
  return [
    "node",
    "start",
    "--node",
    address(node),
    ...(seed === undefined
      ? ["--bootstrap", "--authpass", password]
      : ["--seed", address(seed)]),
    "--keystore",
    join(dir, "keystore"),
    "--blockstore",
    join(dir, "blockstore"),
  ];
}

/**
 * Writes `chain` where {@link nodeStartArgs} looks for a bootstrap's
 * stores: its genesis and blocks in `DIR/blockstore`, its authority's key
 * (under `password`) in `DIR/keystore`.
 */
export async function writeChainDir(
  dir: string,
  chain: TestChain,
  password = "password",
): Promise<void> {
  const store = await BlockStore.open(join(dir, "blockstore"));
  await store.writeGenesis(chain.genesis);
  await store.appendLines(chain.blocks.map(blockBytes));
  await writeKey(join(dir, "keystore"), chain.authority, password);
}

/** The lines of a block.store that holds `chain`'s blocks, in order. */
export function blockStoreLines(chain: TestChain): string[] {
  const text = new TextDecoder();
  return chain.blocks.map((b) => text.decode(blockBytes(b)) + "\n");
}

/**
 * Starts `bcn ARGS` (from source, with the CLI's permissions) and collects
 * its output. The caller must {@link BcnProcess.stop} it, in a `finally`.
 */
// deno-lint-ignore require-await
export async function startBcn(
  args: string[],
  options: BcnOptions = {},
): Promise<BcnProcess> {
  const child = command(args, options).spawn();
  let stdout = "";
  let stderr = "";
  let exited = false;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const l of [...listeners]) l();
  };
  const pump = async (
    stream: ReadableStream<Uint8Array>,
    add: (s: string) => void,
  ) => {
    for await (const s of stream.pipeThrough(new TextDecoderStream())) {
      add(s);
      notify();
    }
  };
  // Settles once the process has exited and both pipes are drained.
  const done: Promise<BcnResult> = Promise.all([
    child.status,
    pump(child.stdout, (s) => stdout += s),
    pump(child.stderr, (s) => stderr += s),
  ]).then(([status]) => {
    exited = true;
    notify();
    return { code: status.code, signal: status.signal, stdout, stderr };
  });
  const output = () => ({ stdout, stderr });

  const waitUntil = <T>(
    check: () => T | undefined,
    timeoutMs: number,
    what: string,
  ): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const finish = () => {
        listeners.delete(onChange);
        clearTimeout(timer);
      };
      const onChange = () => {
        const value = check();
        if (value !== undefined) {
          finish();
          resolve(value);
        } else if (exited) {
          finish();
          reject(new Error(describe(`bcn exited before ${what}`, output())));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(describe(`timed out after ${timeoutMs} ms: ${what}`, {
            stdout,
            stderr,
          })),
        );
      }, timeoutMs);
      listeners.add(onChange);
      onChange();
    });

  const kill = (signal: Deno.Signal) => {
    if (exited) return;
    try {
      child.kill(signal);
    } catch (e) {
      // It exited between the check and the kill.
      if (!(e instanceof TypeError)) throw e;
    }
  };

  let stopping: Promise<BcnResult> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM") =>
    stopping ??= (async () => {
      kill(signal);
      const grace = delay(STOP_TIMEOUT_MS);
      const first = await Promise.race([done, grace.promise]);
      grace.cancel();
      if (first) return first;
      kill("SIGKILL");
      return await done;
    })();

  return {
    pid: child.pid,
    output,
    stop,
    signal: kill,
    waitFor: (text, timeoutMs = WAIT_TIMEOUT_MS) =>
      waitUntil(
        () => stdout.includes(text) ? stdout : undefined,
        timeoutMs,
        `${JSON.stringify(text)} on stdout`,
      ),
    waitExit: async (timeoutMs = RUN_TIMEOUT_MS) => {
      try {
        await waitUntil(() => exited ? true : undefined, timeoutMs, "exit");
      } catch (e) {
        await stop("SIGKILL");
        throw e;
      }
      return await done;
    },
  };
}

/**
 * Starts `bcn ARGS`, waits until it serves gRPC on `127.0.0.1:PORT`, runs
 * `fn` with it, and stops it however `fn` ends.
 */
export async function withServingBcn<T>(
  args: string[],
  port: number,
  fn: (bcn: BcnProcess) => Promise<T>,
  options: BcnOptions = {},
): Promise<T> {
  const bcn = await startBcn(args, options);
  try {
    await bcn.waitFor(`<=> gRPC 127.0.0.1:${port}\n`);
    return await fn(bcn);
  } finally {
    await bcn.stop();
  }
}

/**
 * Runs `bcn ARGS` to its end: for commands expected to exit by themselves.
 * Kills the process and rejects when it runs longer than `timeoutMs`.
 */
export async function runBcn(
  args: string[],
  options: BcnOptions = {},
  timeoutMs: number = RUN_TIMEOUT_MS,
): Promise<BcnResult> {
  const bcn = await startBcn(args, options);
  try {
    return await bcn.waitExit(timeoutMs);
  } finally {
    await bcn.stop("SIGKILL");
  }
}

/** Options of {@link poll}. */
export interface PollOptions {
  /** How long to keep trying; {@link WAIT_TIMEOUT_MS} by default. */
  timeoutMs?: number;
  /** The pause between two calls of the check; 250 ms by default. */
  intervalMs?: number;
  /** What the timeout error adds after its first line (e.g. the output). */
  describe?: () => string;
}

/**
 * Calls `check` every `intervalMs` until it returns something other than
 * `undefined` or `false`, and resolves to that; fails naming `what` (and
 * `describe()`) after `timeoutMs`, so after at most
 * `timeoutMs / intervalMs + 1` calls. An error thrown by `check` ends the
 * poll at once.
 */
export async function poll<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: PollOptions = {},
): Promise<T> {
  const { timeoutMs = WAIT_TIMEOUT_MS, intervalMs = 250 } = options;
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i <= timeoutMs / intervalMs; i++) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() >= deadline) break;
    await delay(intervalMs).promise;
  }
  throw new Error(
    `timed out after ${timeoutMs} ms: ${what}\n${options.describe?.() ?? ""}`,
  );
}

/** Every regular file under `dir`, as sorted paths relative to it. */
export async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...await listFiles(`${dir}/${e.name}`, rel));
    else out.push(rel);
  }
  return out.sort();
}

/**
 * The printed state: the text from `=== Sync state` up to (without) the
 * `<=> gRPC` line, or `undefined` when it is not complete yet.
 */
export function printedState(stdout: string): string | undefined {
  const start = stdout.indexOf("=== Sync state\n");
  const end = stdout.indexOf("<=> gRPC ", start);
  return start < 0 || end < 0 ? undefined : stdout.slice(start, end);
}

/**
 * The confirmed part of the printed state: from `* Balances and nonces` up
 * to `* Pending balances and nonces`.
 */
export function confirmedSection(stdout: string): string | undefined {
  const start = stdout.indexOf("* Balances and nonces\n");
  const end = stdout.indexOf("* Pending balances and nonces\n", start);
  return start < 0 || end < 0 ? undefined : stdout.slice(start, end);
}

export { exists, withTempDir } from "../support.ts";
