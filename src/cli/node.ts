/**
 * `bcn node ...`: start a node.
 *
 * @module
 */
import { type NodeConfig, type PeerProtocol, portOf } from "../node/config.ts";
import { Node } from "../node/node.ts";
import {
  type Flags,
  optionalString,
  parseDuration,
  parseFlags,
  parseU64Flag,
  requireString,
  UsageError,
} from "./args.ts";

/** Help for `bcn node start`. */
export const NODE_START_HELP =
  `Usage: bcn node start --node HOST:PORT (--bootstrap | --seed HOST:PORT) [flags]

Starts a node. A bootstrap node creates the chain on its first start (the
authority and initial owner accounts, and the signed genesis); a regular node
fetches and verifies the genesis from its seed, replays its block store and
syncs newer blocks from its peers. It serves until SIGINT or SIGTERM.

Flags:
  --node HOST:PORT       address to serve on (required)
  --bootstrap            be the bootstrap and authority node
  --seed HOST:PORT       the bootstrap node to join (regular nodes)
  --keystore DIR         key store directory (default .keystore<port>)
  --blockstore DIR       block store directory (default .blockstore<port>)
  --chain NAME           chain name for a new genesis (default blockchain)
  --authpass PASS        authority password (or BCN_AUTHPASS)
  --ownerpass PASS       initial owner password, first start (or BCN_OWNERPASS)
  --balance N            initial owner balance, first start
  --period DURATION      block, discovery and relay period (default 5s)
  --peer-protocol P      auto, connect or grpc (default auto)
  --verify-workers N     threads verifying blocks and transactions
                         (default: one per core)
  --reverify             replay and verify the whole block store, ignoring
                         its snapshot
`;

const START_FLAGS = {
  node: { type: "string" },
  bootstrap: { type: "boolean" },
  seed: { type: "string" },
  keystore: { type: "string" },
  blockstore: { type: "string" },
  chain: { type: "string" },
  authpass: { type: "string", env: "BCN_AUTHPASS" },
  ownerpass: { type: "string", env: "BCN_OWNERPASS" },
  balance: { type: "string" },
  period: { type: "string" },
  "peer-protocol": { type: "string" },
  "verify-workers": { type: "string" },
  reverify: { type: "boolean" },
} as const;

/** Builds a node configuration from `bcn node start` flags. */
export function nodeConfigFromFlags(flags: Flags): NodeConfig {
  const node = requireString(flags, "node");
  let port: number;
  try {
    port = portOf(node);
  } catch (e) {
    throw new UsageError(`--node: ${(e as Error).message}`);
  }
  const bootstrap = flags.bootstrap === true;
  const seed = optionalString(flags, "seed");
  if (bootstrap === (seed !== undefined)) {
    throw new UsageError("give exactly one of --bootstrap and --seed");
  }
  if (seed !== undefined) {
    try {
      portOf(seed);
    } catch (e) {
      throw new UsageError(`--seed: ${(e as Error).message}`);
    }
  }
  const protocol = optionalString(flags, "peer-protocol") ?? "auto";
  if (!["auto", "connect", "grpc"].includes(protocol)) {
    throw new UsageError(
      `--peer-protocol: expected auto, connect or grpc, got ${
        JSON.stringify(protocol)
      }`,
    );
  }
  const workers = optionalString(flags, "verify-workers");
  let verifyWorkers: number | undefined;
  if (workers !== undefined) {
    verifyWorkers = Number(workers);
    if (!/^\d{1,3}$/.test(workers) || verifyWorkers < 1) {
      throw new UsageError(
        `--verify-workers: expected a number from 1 to 999, got ${
          JSON.stringify(workers)
        }`,
      );
    }
  }
  const balance = optionalString(flags, "balance");
  const period = optionalString(flags, "period");
  return {
    node,
    bootstrap,
    seed,
    keyStoreDir: optionalString(flags, "keystore") ?? `.keystore${port}`,
    blockStoreDir: optionalString(flags, "blockstore") ?? `.blockstore${port}`,
    chain: optionalString(flags, "chain") ?? "blockchain",
    authPass: optionalString(flags, "authpass"),
    ownerPass: optionalString(flags, "ownerpass"),
    balance: balance === undefined
      ? undefined
      : parseU64Flag("balance", balance),
    periodMs: period === undefined ? 5000 : parseDuration("period", period),
    peerProtocol: protocol as PeerProtocol,
    verifyWorkers,
    reverify: flags.reverify === true,
  };
}

/** Runs `bcn node start`: resolves when the node has stopped on a signal. */
export async function nodeStart(args: string[]): Promise<void> {
  const flags = parseFlags(args, START_FLAGS);
  if (flags.help) {
    console.log(NODE_START_HELP);
    return;
  }
  const node = new Node(nodeConfigFromFlags(flags));
  let signalled = false;
  const onSignal = () => {
    signalled = true;
    void node.stop();
  };
  for (const s of SIGNALS) Deno.addSignalListener(s, onSignal);
  try {
    try {
      await node.start();
    } catch (e) {
      await node.stop();
      // Interrupted while starting: a clean stop, not an error.
      if (signalled) return;
      throw e;
    }
    // Resolves after a signal; rejects if the node had to stop by itself.
    await node.finished;
  } finally {
    for (const s of SIGNALS) Deno.removeSignalListener(s, onSignal);
  }
}

const SIGNALS: Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT"]
  : ["SIGINT", "SIGTERM"];
