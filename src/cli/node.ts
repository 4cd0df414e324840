/**
 * `bcn node ...`: start a node, print what a node says about itself, print a
 * node's events as they come.
 *
 * @module
 */
import { blockHash, decodeSigBlock } from "../chain/block.ts";
import {
  decodeEvent,
  encodeEvent,
  type Event,
  EventType,
} from "../chain/event.ts";
import { DecodeError, encodeString, encodeU64 } from "../chain/json.ts";
import { MAX_CHECKPOINT_INTERVAL } from "../chain/checkpoint.ts";
import { decodeSigTx, txHash } from "../chain/tx.ts";
import {
  DEFAULT_PERIOD_MS,
  type NodeConfig,
  type PeerProtocol,
  portOf,
  splitHostPort,
} from "../node/config.ts";
import { Node } from "../node/node.ts";
import { decodeStatus, formatStatus, type NodeStatus } from "../node/status.ts";
import { AddressList } from "../http/address_list.ts";
import { firstLine } from "../util/errors.ts";
import {
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  MAX_CONNECTIONS,
} from "../http/conn_limits.ts";
import {
  type Flags,
  optionalString,
  parseDuration,
  parseU64Flag,
  requireString,
  UsageError,
} from "./args.ts";
import { clientCommand, type Command, onStop } from "./command.ts";
import { shortAccount } from "./format.ts";
import { describeNetworkFailure, NodeError } from "./rpc_errors.ts";

// ----------------------------------------------------------- node start

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
  const sync = checkpointFlags(flags, bootstrap);
  return {
    ...sync,
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
    verifyWorkers,
    reverify: flags.reverify === true,
  };
}

/**
 * `--checkpoint-interval` (bootstrap only), `--sync` and `--assume-valid`
 * (regular nodes only).
 */
function checkpointFlags(
  flags: Flags,
  bootstrap: boolean,
): Pick<NodeConfig, "checkpointInterval" | "sync" | "assumeValid"> {
  const interval = optionalString(flags, "checkpoint-interval");
  const sync = optionalString(flags, "sync");
  const assume = optionalString(flags, "assume-valid");
  if (interval !== undefined && !bootstrap) {
    throw new UsageError(
      "--checkpoint-interval: only the bootstrap node sets it (regular nodes learn it from its checkpoints)",
    );
  }
  if (bootstrap && (sync !== undefined || assume !== undefined)) {
    throw new UsageError(
      `--${
        sync !== undefined ? "sync" : "assume-valid"
      }: only for a regular node (the bootstrap replays its own store)`,
    );
  }
  let checkpointInterval: bigint | undefined;
  if (interval !== undefined) {
    checkpointInterval = parseU64Flag("checkpoint-interval", interval);
    if (
      checkpointInterval < 1n || checkpointInterval > MAX_CHECKPOINT_INTERVAL
    ) {
      throw new UsageError(
        `--checkpoint-interval: expected 1 to ${MAX_CHECKPOINT_INTERVAL} blocks, got ${interval}`,
      );
    }
  }
  if (sync !== undefined && sync !== "checkpoint" && sync !== "full") {
    throw new UsageError(
      `--sync: expected checkpoint or full, got ${JSON.stringify(sync)}`,
    );
  }
  let assumeValid: string | undefined;
  if (assume !== undefined && assume !== "none") {
    if (!/^[0-9a-fA-F]{64}$/.test(assume)) {
      throw new UsageError(
        `--assume-valid: expected a block hash of 64 hex characters or none, got ${
          JSON.stringify(assume)
        }`,
      );
    }
    assumeValid = assume.toLowerCase();
  }
  return {
    checkpointInterval,
    sync: sync as NodeConfig["sync"],
    assumeValid,
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

/**
 * `bcn node start`: resolves when the node has stopped on a signal (or an
 * abort of `io.signal`).
 */
export const NODE_START: Command = {
  name: "node start",
  summary: "start a bootstrap or regular node",
  flags: {
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
    "verify-workers": { type: "string" },
    reverify: { type: "boolean" },
    "checkpoint-interval": { type: "string" },
    sync: { type: "string" },
    "assume-valid": { type: "string" },
  },
  help:
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
  --verify-workers N     threads verifying blocks and transactions
                         (default: one per core)
  --reverify             replay and verify the whole block store, ignoring
                         its snapshot
  --checkpoint-interval N
                         bootstrap: sign a checkpoint (block hash and state
                         hash) every N blocks (default 1000)
  --sync MODE            regular node without blocks: checkpoint (start from
                         a bcn peer's checkpoint) or full (replay every
                         block); default checkpoint when the store holds no
                         block
  --assume-valid HASH    full sync: do not recover transaction signatures of
                         the blocks up to the block of that hash (everything
                         else is checked); none turns it off
`,
  async run(flags, io) {
    const node = new Node(nodeConfigFromFlags(flags), {
      out: io.out,
      log: io.err,
    });
    let signalled = false;
    const removeListeners = onStop(io, () => {
      signalled = true;
      void node.stop();
    });
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
      removeListeners();
    }
  },
};

// ------------------------------------------------------- node subscribe

const EVENT_NAMES: Readonly<Record<string, EventType>> = {
  all: EventType.All,
  tx: EventType.Tx,
  blk: EventType.Block,
};

/**
 * The event types of an `--events` value (a comma-separated list of `all`,
 * `tx` and `blk`; `all` when absent), as StreamSubscribe wants them; a usage
 * error for anything else.
 *
 * @example
 * ```ts
 * import { parseEventsFlag } from "./node.ts";
 *
 * parseEventsFlag("blk,tx"); // [2n, 1n]
 * parseEventsFlag(undefined); // [0n]
 * ```
 */
export function parseEventsFlag(value: string | undefined): bigint[] {
  if (value === undefined) return [BigInt(EventType.All)];
  const types: bigint[] = [];
  for (const name of value.split(",")) {
    const type = Object.hasOwn(EVENT_NAMES, name.trim())
      ? EVENT_NAMES[name.trim()]
      : undefined;
    if (type === undefined) {
      throw new UsageError(
        `--events: expected a comma-separated list of all, tx and blk, got ${
          encodeString(value)
        }`,
      );
    }
    if (type === EventType.All) return [BigInt(EventType.All)];
    if (!types.includes(BigInt(type))) types.push(BigInt(type));
  }
  return types;
}

/**
 * An event in output: its canonical JSON with `json`, else a text line
 * (see the help). Throws a {@link DecodeError} when its body is not the
 * transaction or block its type says.
 *
 * @example
 * ```ts
 * import { formatEvent } from "./node.ts";
 * import { txEvent } from "../chain/event.ts";
 * import { decodeSigTx } from "../chain/tx.ts";
 *
 * const tx = decodeSigTx('{"from":"a","to":"b","value":5,"nonce":1,"time":"2024-01-01T00:00:00Z","sig":""}');
 * formatEvent(txEvent(tx), false); // "tx validated <hash7>: a -> b 5"
 * ```
 */
export function formatEvent(event: Event, json: boolean): string {
  let text: string;
  if (event.type === EventType.Tx) {
    const tx = decodeSigTx(event.body, "event.body");
    text = `tx ${event.action} ${txHash(tx).slice(0, 7)}: ${
      shortAccount(tx.from)
    } -> ${shortAccount(tx.to)} ${encodeU64(tx.value)}`;
  } else if (event.type === EventType.Block) {
    const b = decodeSigBlock(event.body, "event.body");
    text = `blk ${event.action} ${encodeU64(b.number)} ${
      blockHash(b).slice(0, 7)
    } txs ${b.txs.length}`;
  } else {
    throw new DecodeError("event.type", "expected 1 or 2");
  }
  return json ? encodeEvent(event) : text;
}

/**
 * `bcn node subscribe`: resolves on SIGINT, SIGTERM or an abort of
 * `io.signal`; rejects with a one-line error when the node cannot be
 * reached (`cannot reach node ADDR: connection refused`), goes away (`lost
 * node ADDR: connection reset`), ends the stream (`node ADDR ended the event
 * stream`) or sends an event that does not decode.
 */
export const NODE_SUBSCRIBE: Command = clientCommand({
  name: "node subscribe",
  summary: "print a node's validated blocks and transactions as they come",
  flags: {
    events: { type: "string" },
    json: { type: "boolean" },
  },
  help:
    `Usage: bcn node subscribe --node HOST:PORT [--events all|tx|blk[,...]] [--json]

Prints the node's events as they happen, one a line, until SIGINT or SIGTERM
(exit code 0) or until the node goes away (an error, exit code 1):
  blk <action> <number> <hash7> txs <count>
  tx <action> <hash7>: <from7> -> <to7> <value>
where <action> is 'validated' and names ending in 7 are shortened to 7
characters (a receiver that is not an address is shown in full). With --json,
one event JSON a line: {"type":1|2,"action":"validated","body":"<base64 of the
transaction's or block's JSON>"}.

Flags:
  --node HOST:PORT     the node to listen to (required)
  --events LIST        comma-separated event types: all, tx (transactions),
                       blk (blocks); default all
  --json               machine-readable output
`,
  async run({ node: addr, flags, call }, io) {
    const types = parseEventsFlag(optionalString(flags, "events"));
    const json = flags.json === true;
    const stop = new AbortController();
    const removeListeners = onStop(io, () => stop.abort());
    try {
      await call(async ({ node }) => {
        let received = 0;
        try {
          for await (
            const res of node.streamSubscribe(
              { EventTypes: types },
              { signal: stop.signal },
            )
          ) {
            received++;
            io.out(formatEvent(decodeEvent(res.Event), json));
          }
        } catch (e) {
          if (stop.signal.aborted) return;
          // Once events came, a network failure means the node went away.
          const lost = received > 0 ? describeNetworkFailure(e) : undefined;
          if (lost !== undefined) {
            throw new NodeError(`lost node ${addr}: ${lost}`);
          }
          throw e;
        }
        if (!stop.signal.aborted) {
          throw new Error(`node ${addr} ended the event stream`);
        }
      });
    } finally {
      removeListeners();
    }
  },
});

// ---------------------------------------------------------- node status

/** How long `bcn node status` waits for an answer. */
export const STATUS_TIMEOUT_MS = 10_000;
/** The largest status answer read, so a wrong server cannot flood the CLI. */
const MAX_STATUS_BYTES = 1 << 20;

/**
 * Asks node `addr` for its status over HTTP/1.1; throws a one-line
 * {@link NodeError} when the node cannot be reached or answers something
 * else than a status.
 *
 * @example
 * ```ts ignore
 * import { fetchStatus } from "./node.ts";
 *
 * const status = await fetchStatus("127.0.0.1:1122");
 * console.log(status.lastBlock.number);
 * ```
 */
export async function fetchStatus(
  addr: string,
  options: { timeoutMs?: number } = {},
): Promise<{ status: NodeStatus; text: string }> {
  const { hostname, port } = splitHostPort(addr);
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  let res: Response;
  try {
    res = await fetch(`http://${host}:${port}/status`, {
      signal: AbortSignal.timeout(options.timeoutMs ?? STATUS_TIMEOUT_MS),
    });
  } catch (e) {
    throw new NodeError(`cannot reach node ${addr}: ${fetchFailure(e)}`);
  }
  const text = await readBounded(res, addr);
  if (res.status !== 200) {
    throw new NodeError(
      `node ${addr}: /status answered ${res.status}: ${
        firstLine(text).slice(0, 200)
      }`,
    );
  }
  try {
    return { status: decodeStatus(text), text: text.trim() };
  } catch (e) {
    throw new NodeError(`node ${addr}: bad answer: ${(e as Error).message}`);
  }
}

/** `bcn node status`. */
export const NODE_STATUS: Command = clientCommand({
  name: "node status",
  summary: "print what a node says about itself (chain, block, peers, health)",
  flags: {
    json: { type: "boolean" },
  },
  help: `Usage: bcn node status --node HOST:PORT [--json]

Prints what the node says about itself (its GET /status endpoint): the chain
and genesis, the last block, pending transactions and how many periods they
have waited with no new block (stalled from 5 on), peers, whether it is
catching up and how far behind it believes it is, the authority, whether this
node is it or reaches it, its version, uptime and health. Exit code 0
whenever the node answers its status, healthy or not (the "health" line says
which); a node still starting has no status yet: its one-line reason, exit
code 1.

Flags:
  --node HOST:PORT     the node to ask (required)
  --json               the node's JSON answer, one line
`,
  async run({ node, flags }, io) {
    const { status, text } = await fetchStatus(node);
    io.out(flags.json ? text : formatStatus(status));
  },
});

/** The `bcn node ...` commands, in `bcn --help` order. */
export const NODE_COMMANDS: readonly Command[] = [
  NODE_START,
  NODE_SUBSCRIBE,
  NODE_STATUS,
];

async function readBounded(res: Response, addr: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body ?? []) {
      size += chunk.length;
      if (size > MAX_STATUS_BYTES) {
        throw new NodeError(
          `node ${addr}: bad answer: more than ${MAX_STATUS_BYTES} bytes`,
        );
      }
      chunks.push(chunk);
    }
  } catch (e) {
    await res.body?.cancel().catch(() => {});
    if (e instanceof NodeError) throw e;
    throw new NodeError(`cannot reach node ${addr}: ${fetchFailure(e)}`);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

/** One line for a failed fetch (Deno's messages nest their causes). */
function fetchFailure(e: unknown): string {
  if (e instanceof DOMException && e.name === "TimeoutError") {
    return `no answer in ${STATUS_TIMEOUT_MS / 1000}s`;
  }
  let msg = e instanceof Error ? e.message : String(e);
  // Deno: TypeError("fetch failed") with the reason in its cause.
  const cause = e instanceof Error ? e.cause : undefined;
  if (cause instanceof Error) msg = cause.message;
  msg = msg.replace(/ \(os error \d+\)$/, "");
  if (/connection refused/i.test(msg)) return "connection refused";
  if (/connection reset/i.test(msg)) return "connection reset";
  if (/connection closed|message completed|incomplete/i.test(msg)) {
    // A reference node closes HTTP/1.1 connections without answering.
    return "connection closed without an answer (a reference node serves no /status)";
  }
  const parts = firstLine(msg).split(": ");
  return parts[parts.length - 1];
}
