/**
 * `bcn node ...`: start a node.
 *
 * @module
 */
import {
  DEFAULT_PERIOD_MS,
  type NodeConfig,
  type PeerProtocol,
  portOf,
} from "../node/config.ts";
import { Node } from "../node/node.ts";
import { STOP_SIGNALS } from "./signals.ts";
import { AddressList } from "../rpc/address_list.ts";
import {
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  MAX_CONNECTIONS,
} from "../rpc/conn_limits.ts";
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
Its port also answers GET /status, /healthz and /metrics for operators, from
the start (the services answer Unavailable until the node is synced).

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
  --allow-keys-from LIST addresses or CIDR ranges, comma-separated, that may
                         call tx sign and account create (which use the key
                         store) besides this machine (127.0.0.1 and ::1),
                         e.g. 10.0.0.0/8,192.168.1.5
  --max-conns-per-ip N   open connections one address may hold (default ${DEFAULT_MAX_CONNECTIONS_PER_ADDRESS});
                         raise it when many nodes or clients share one address
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
  "allow-keys-from": { type: "string" },
  "max-conns-per-ip": { type: "string" },
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
  const balance = optionalString(flags, "balance");
  const period = optionalString(flags, "period");
  const allowKeys = optionalString(flags, "allow-keys-from");
  let allowKeysFrom: string[] | undefined;
  if (allowKeys !== undefined) {
    try {
      allowKeysFrom = AddressList.parse(allowKeys).toString().split(",");
    } catch (e) {
      throw new UsageError(`--allow-keys-from: ${(e as Error).message}`);
    }
    if (allowKeys.trim() === "") {
      throw new UsageError(
        "--allow-keys-from: expected addresses or CIDR ranges, e.g. 10.0.0.0/8,192.168.1.5",
      );
    }
  }
  const perIp = optionalString(flags, "max-conns-per-ip");
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
    periodMs: period === undefined
      ? DEFAULT_PERIOD_MS
      : parseDuration("period", period),
    peerProtocol: protocol as PeerProtocol,
    allowKeysFrom,
    maxConnsPerIp: perIp === undefined ? undefined : parseConnLimit(perIp),
  };
}

/** `--max-conns-per-ip`: an integer from 1 to the server's total bound. */
function parseConnLimit(value: string): number {
  const n = /^[1-9]\d{0,5}$/.test(value) ? Number(value) : NaN;
  if (!(n <= MAX_CONNECTIONS)) {
    throw new UsageError(
      `--max-conns-per-ip: expected an integer from 1 to ${MAX_CONNECTIONS}, got ${
        JSON.stringify(value)
      }`,
    );
  }
  return n;
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
  for (const s of STOP_SIGNALS) Deno.addSignalListener(s, onSignal);
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
    for (const s of STOP_SIGNALS) Deno.removeSignalListener(s, onSignal);
  }
}
