/**
 * The HTTP/2 GOAWAY scenario of issue 8 with real processes: a grpc-go
 * server (the reference node's wire, `grpc_go/main.go`) serves a chain, a
 * `bcn` regular node joins it as its seed over gRPC (the `auto` fallback),
 * stays connected for a while, then the grpc-go server stops gracefully
 * (`GracefulStop`, which sends GOAWAY on every connection). Under Deno 2.9.6
 * a `node:http2` client session that saw that GOAWAY could kill the process
 * (denoland/deno#36788). Used by `tests/interop/grpc_go_test.ts` and
 * `bench/goaway_stress.ts`.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { makeChain } from "../fixtures.ts";
import { BlockStore } from "../../src/store/block_store.ts";
import {
  BCN_PERMISSIONS,
  CONFIG_PATH,
  DENO,
  freePort,
  MAIN_PATH,
} from "../e2e/helpers.ts";
import { goTool } from "./go_tool.ts";

const GRPC_GO = goTool("grpc_go", "./grpc_go/", ".");

/** Where the grpc-go stand-in is built (see {@link goTool}). */
export const GO_BIN: string = GRPC_GO.bin;

/** Builds the grpc-go stand-in once per process; returns its path. */
export const buildGo: () => Promise<string> = GRPC_GO.build;

export { hasGo } from "./go_tool.ts";

/** Writes a genesis and `blocks` blocks of a test chain into `dir`. */
export async function writeChain(dir: string, blocks: number): Promise<void> {
  const chain = makeChain(blocks, 2);
  const store = await BlockStore.open(dir);
  await store.writeGenesis(chain.genesis);
  for (const b of chain.blocks) await store.appendBlock(b);
}

/** A running grpc-go stand-in. */
export interface GoServer {
  /** Its address, `127.0.0.1:port`. */
  readonly addr: string;
  /** Everything it printed to stdout so far. */
  stdout(): string;
  /**
   * Sends SIGTERM (a graceful stop with GOAWAY); resolves with its exit
   * status, killing it when it has not exited after `timeoutMs`.
   */
  stop(timeoutMs?: number): Promise<Deno.CommandStatus>;
}

/** Starts `grpc_go serve` on a free port; resolves once it listens. */
export async function startGoServer(
  bin: string,
  storeDir: string,
  options: { host?: string } = {},
): Promise<GoServer> {
  const host = options.host ?? "127.0.0.1";
  const addr = `${host.includes(":") ? `[${host}]` : host}:${freePort()}`;
  const child = new Deno.Command(bin, {
    args: ["serve", addr, storeDir],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let out = "";
  const listening = Promise.withResolvers<void>();
  const pump = (async () => {
    for await (const s of child.stdout.pipeThrough(new TextDecoderStream())) {
      out += s;
      if (out.includes("listening")) listening.resolve();
    }
    listening.reject(new Error(`grpc_go exited before listening: ${out}`));
  })();
  const timer = setTimeout(
    () => listening.reject(new Error("grpc_go did not listen within 30 s")),
    30_000,
  );
  const stop = async (timeoutMs = 15_000): Promise<Deno.CommandStatus> => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
    const kill = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
    }, timeoutMs);
    const status = await child.status;
    clearTimeout(kill);
    await pump;
    return status;
  };
  try {
    await listening.promise;
  } catch (e) {
    await stop(0);
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return { addr, stdout: () => out, stop };
}

/** Options of {@link runGoawayScenario}. */
export interface GoawayScenarioOptions {
  /** The grpc-go stand-in binary ({@link buildGo}). */
  bin: string;
  /** A fresh directory for the stores. */
  dir: string;
  /** How long the bcn node stays joined before the graceful stop. */
  idleMs: number;
  /** The node's period (discovery and relay); default 2000 ms. */
  periodMs?: number;
  /** How long the node must survive after the server stopped; 5000 ms. */
  afterMs?: number;
}

/** What became of the bcn node. */
export interface GoawayScenarioResult {
  /** Whether the bcn node died (or did not stop cleanly) on its own. */
  crashed: boolean;
  /** Its exit code (after our SIGTERM when it survived). */
  code: number;
  /** What it printed to stderr. */
  stderr: string;
}

/**
 * Runs the scenario once (see the module documentation): the node survives
 * when it is still running `afterMs` after the server stopped and then
 * stops cleanly on SIGTERM (exit 0).
 */
export async function runGoawayScenario(
  options: GoawayScenarioOptions,
): Promise<GoawayScenarioResult> {
  const { bin, dir, idleMs } = options;
  const periodMs = options.periodMs ?? 2000;
  await writeChain(`${dir}/go_store`, 3);
  const go = await startGoServer(bin, `${dir}/go_store`);
  let goStopped = false;
  const child = new Deno.Command(DENO, {
    args: [
      "run",
      ...BCN_PERMISSIONS,
      "--config",
      CONFIG_PATH,
      MAIN_PATH,
      "node",
      "start",
      "--node",
      `127.0.0.1:${freePort()}`,
      "--seed",
      go.addr,
      "--keystore",
      `${dir}/keys`,
      "--blockstore",
      `${dir}/blocks`,
      "--period",
      `${periodMs}ms`,
    ],
    env: { BCN_AUTHPASS: "", BCN_OWNERPASS: "" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  const pumps = Promise.all([
    (async () => {
      for await (const s of child.stdout.pipeThrough(new TextDecoderStream())) {
        stdout += s;
      }
    })(),
    (async () => {
      for await (const s of child.stderr.pipeThrough(new TextDecoderStream())) {
        stderr += s;
      }
    })(),
  ]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const kill = (signal: Deno.Signal): void => {
    try {
      if (!exited) child.kill(signal);
    } catch {
      // it exited meanwhile
    }
  };
  const waitExit = async (ms: number): Promise<boolean> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((r) => timer = setTimeout(r, ms, false));
    const done = await Promise.race([status.then(() => true), timeout]);
    clearTimeout(timer);
    return done;
  };
  try {
    const joinedBy = Date.now() + 30_000;
    while (!stderr.includes(`peer ${go.addr} joined`)) {
      if (exited || Date.now() > joinedBy) {
        throw new Error(
          `bcn did not join ${go.addr}\n--- stdout\n${stdout}--- stderr\n${stderr}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, idleMs));
    goStopped = true;
    await go.stop();
    const died = await waitExit(options.afterMs ?? 5000);
    kill("SIGTERM");
    if (!await waitExit(15_000)) kill("SIGKILL");
    const { code } = await status;
    await pumps;
    return { crashed: died || code !== 0, code, stderr };
  } finally {
    kill("SIGKILL");
    await status;
    await pumps.catch(() => {});
    if (!goStopped) await go.stop();
  }
}

const VICTIM_PATH = fileURLToPath(
  new URL("./goaway_victim.ts", import.meta.url),
);

/** Options of {@link runVictimRound}. */
export interface VictimRoundOptions {
  /** The grpc-go stand-in binary ({@link buildGo}). */
  bin: string;
  /** A block store for the server ({@link writeChain}). */
  storeDir: string;
  /** Peer registries (HTTP/2 client sessions) in the victim; default 8. */
  sessions?: number;
  /** Calls made on each before idling; default 13. */
  calls?: number;
  /** Keep calling through the stop instead of idling. */
  busy?: boolean;
  /** How long the victim idles (or keeps calling) before the stop. */
  idleMs: number;
}

/**
 * One round with `goaway_victim.ts` as a child process: a fresh grpc-go
 * server, the victim's calls, `idleMs`, a graceful stop of the server
 * (GOAWAY), one more second, then the victim is told to finish. Resolves
 * with how the victim ended; a crash shows as a non-zero code and no
 * `survived` on stdout.
 */
export async function runVictimRound(
  options: VictimRoundOptions,
): Promise<GoawayScenarioResult & { stdout: string }> {
  const go = await startGoServer(options.bin, options.storeDir);
  let goStopped = false;
  const child = new Deno.Command(DENO, {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--v8-flags=--expose-gc",
      "--config",
      CONFIG_PATH,
      VICTIM_PATH,
      go.addr,
      String(options.sessions ?? 8),
      String(options.calls ?? 13),
      options.busy ? "busy" : "idle",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  const idle = Promise.withResolvers<void>();
  const pumps = Promise.all([
    (async () => {
      for await (const s of child.stdout.pipeThrough(new TextDecoderStream())) {
        stdout += s;
        if (stdout.includes("idle")) idle.resolve();
      }
      idle.reject(new Error(`the victim exited early: ${stdout}${stderr}`));
    })(),
    (async () => {
      for await (const s of child.stderr.pipeThrough(new TextDecoderStream())) {
        stderr += s;
      }
    })(),
  ]);
  const timer = setTimeout(
    () => idle.reject(new Error("the victim did not get idle within 60 s")),
    60_000,
  );
  try {
    await idle.promise;
    clearTimeout(timer);
    await new Promise((r) => setTimeout(r, options.idleMs));
    goStopped = true;
    await go.stop();
    await new Promise((r) => setTimeout(r, 1000));
    await child.stdin.close().catch(() => {});
    const kill = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const { code } = await child.status;
    clearTimeout(kill);
    await pumps;
    const crashed = code !== 0 || !stdout.includes("survived");
    return { crashed, code, stdout, stderr };
  } finally {
    clearTimeout(timer);
    try {
      child.kill("SIGKILL");
    } catch {
      // it has exited
    }
    await child.status;
    await pumps.catch(() => {});
    if (!goStopped) await go.stop();
  }
}
