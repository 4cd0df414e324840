/**
 * `bcn node ...`: start a node, print what a node says about itself, print a
 * node's events as they come.
 *
 * @module
 */
import { blockHash } from "../chain/block.ts";
import { type Event, EventType } from "../chain/event.ts";
import { encodeString, encodeU64 } from "../chain/json.ts";
import { txHash } from "../chain/tx.ts";
import {
  encodeNodeEvent,
  type NodeEvent,
  nodeEventOf,
} from "../client/client.ts";
import { MAX_CHECKPOINT_INTERVAL } from "../chain/checkpoint.ts";
import {
  DEFAULT_PERIOD_MS,
  isUnspecifiedHost,
  type NodeConfig,
  portOf,
} from "../node/config.ts";
import { splitHostPort } from "../rpc/peer_address.ts";
import type { PeerProtocol } from "../rpc/transport.ts";
import { Node } from "../node/node.ts";
import { GENESIS_FILE } from "../store/block_store.ts";
import { checkPassword } from "../store/key_store.ts";
import { join } from "node:path";
import { formatStatus } from "./status_format.ts";
import { AddressList } from "../http/address_list.ts";
import { messageOf } from "../util/errors.ts";
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
import { requirePassword, type SecretPrompt } from "./password.ts";
import { shortAccount } from "./format.ts";
import { withClient } from "./use_client.ts";

// ----------------------------------------------------------- node start

/** Builds a node configuration from `bcn node start` flags. */
export function nodeConfigFromFlags(flags: Flags): NodeConfig {
  const node = requireString(flags, "node");
  let port: number;
  try {
    port = portOf(node);
  } catch (e) {
    throw new UsageError(`--node: ${messageOf(e)}`);
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
      throw new UsageError(`--seed: ${messageOf(e)}`);
    }
  }
  const advertise = advertiseFlag(node, optionalString(flags, "advertise"));
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
      throw new UsageError(`--allow-keys-from: ${messageOf(e)}`);
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
    ...(advertise === undefined ? {} : { advertise }),
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
    explorer: parseExplorerFlag(optionalString(flags, "explorer")),
  };
}

/**
 * The `--advertise` address, checked, or `undefined` when the `--node`
 * address serves as it; a usage error for an address peers cannot reach,
 * above all an unspecified one (`0.0.0.0`, `::`) given or taken from
 * `--node`.
 *
 * @example
 * ```ts
 * import { advertiseFlag } from "./node_commands.ts";
 *
 * advertiseFlag("0.0.0.0:1122", "10.0.0.5:1122"); // "10.0.0.5:1122"
 * advertiseFlag("127.0.0.1:1122", undefined); // undefined
 * ```
 */
export function advertiseFlag(
  node: string,
  advertise: string | undefined,
): string | undefined {
  if (advertise === undefined) {
    const { hostname } = splitHostPort(node);
    if (isUnspecifiedHost(hostname)) {
      throw new UsageError(
        `--node ${node} listens on every address, which is no address for peers to reach: give --advertise HOST:PORT, the address peers reach this node at`,
      );
    }
    return undefined;
  }
  let hostname: string;
  let port: number;
  try {
    ({ hostname, port } = splitHostPort(advertise));
  } catch (e) {
    throw new UsageError(`--advertise: ${messageOf(e)}`);
  }
  if (port < 1) {
    throw new UsageError(
      `--advertise: port 0 is no port for peers to reach, got ${
        encodeString(advertise)
      }`,
    );
  }
  if (isUnspecifiedHost(hostname)) {
    throw new UsageError(
      `--advertise: ${
        encodeString(advertise)
      } is an unspecified address, which peers cannot reach: give this node's address on their network`,
    );
  }
  return advertise;
}

/** `--explorer`: `true` (the default) or `false`. */
function parseExplorerFlag(value: string | undefined): boolean {
  if (value === undefined || value === "true") return true;
  if (value === "false") return false;
  throw new UsageError(
    `--explorer: expected true or false, got ${JSON.stringify(value)}`,
  );
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
 * Whether the block store of `dir` holds a genesis: when it does not, a
 * bootstrap node's start is its first and creates the chain. A store that
 * cannot be read counts as holding one: the node then says what is wrong
 * with it.
 */
async function hasGenesis(dir: string): Promise<boolean> {
  try {
    await Deno.stat(join(dir, GENESIS_FILE));
    return true;
  } catch (e) {
    return !(e instanceof Deno.errors.NotFound);
  }
}

/**
 * What a bootstrap node's start needs besides its flags' syntax: the
 * authority password on every start; on the first (no genesis yet), the
 * initial owner's password and balance too. A password no flag, file or
 * environment variable gave is asked for on a terminal (`prompt`); else a
 * usage error names the missing flag and why it is needed. Returns `cfg`
 * with the passwords filled in.
 *
 * @example
 * ```ts ignore
 * import { askStartPasswords, nodeConfigFromFlags } from "./node_commands.ts";
 *
 * const flags = { node: "127.0.0.1:1122", bootstrap: true, authpass: "password" };
 * await askStartPasswords(nodeConfigFromFlags(flags), flags);
 * ```
 */
export async function askStartPasswords(
  cfg: NodeConfig,
  flags: Flags,
  options: { prompt?: SecretPrompt } = {},
): Promise<NodeConfig> {
  if (!cfg.bootstrap) return cfg;
  const first = !await hasGenesis(cfg.blockStoreDir);
  const firstStart =
    `the first start of a bootstrap node (no genesis in ${cfg.blockStoreDir} yet) creates the chain`;
  const passwords = [
    {
      flag: "authpass",
      label: "authority password",
      why: first
        ? `${firstStart}, with an authority key encrypted with this password (or set BCN_AUTHPASS, or give --authpass-file)`
        : `a bootstrap node decrypts its authority key with it (or set BCN_AUTHPASS, or give --authpass-file)`,
    },
    ...(first
      ? [{
        flag: "ownerpass",
        label: "initial owner password",
        why:
          `${firstStart}, with an initial owner key encrypted with this password (or set BCN_OWNERPASS, or give --ownerpass-file)`,
      }]
      : []),
  ];
  // What the flags give is checked before anything is asked.
  const check = (flag: string, label: string) => {
    const value = flags[flag];
    if (!first || typeof value !== "string") return;
    try {
      checkPassword(value, `${label} (--${flag})`);
    } catch (e) {
      throw new UsageError(messageOf(e));
    }
  };
  for (const p of passwords) check(p.flag, p.label);
  if (first && cfg.balance === undefined) {
    throw new UsageError(
      `missing --balance: ${firstStart}, giving its initial owner this balance`,
    );
  }
  const given: Record<string, string> = {};
  for (const p of passwords) {
    given[p.flag] = await requirePassword(flags, p.flag, {
      label: p.label,
      prompt: options.prompt,
      why: p.why,
    });
    check(p.flag, p.label);
  }
  return {
    ...cfg,
    authPass: given.authpass,
    ...(first ? { ownerPass: given.ownerpass } : {}),
  };
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
    authpass: { type: "string", env: "BCN_AUTHPASS", file: "authpass-file" },
    "authpass-file": { type: "string" },
    ownerpass: {
      type: "string",
      env: "BCN_OWNERPASS",
      file: "ownerpass-file",
    },
    "ownerpass-file": { type: "string" },
    balance: { type: "string" },
    advertise: { type: "string" },
    period: { type: "string" },
    "peer-protocol": { type: "string" },
    "allow-keys-from": { type: "string" },
    "max-conns-per-ip": { type: "string" },
    "verify-workers": { type: "string" },
    reverify: { type: "boolean" },
    explorer: { type: "string" },
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
the start (the services answer Unavailable until the node is synced), and
serves a read-only block explorer page on GET / (open it in a browser).
A regular node whose seed cannot be reached yet tries again, after 0.5s, 1s,
2s ... up to 30s between tries, until it answers or the node is stopped.
A password flag can also be given in a file (--authpass-file FILE), in its
environment variable, or typed when asked on a terminal.

Flags:
  --node HOST:PORT       address to serve on (required)
  --bootstrap            be the bootstrap and authority node
  --seed HOST:PORT       the bootstrap node to join (regular nodes)
  --advertise HOST:PORT  the address peers are told to reach this node at
                         (default --node; required when --node is 0.0.0.0
                         or [::], which peers cannot reach)
  --keystore DIR         key store directory (default .keystore<port>)
  --blockstore DIR       block store directory (default .blockstore<port>)
  --chain NAME           chain name for a new genesis (default blockchain)
  --authpass PASS        authority password (required with --bootstrap; or
                         BCN_AUTHPASS)
  --authpass-file FILE   read --authpass from the first line of FILE
  --ownerpass PASS       initial owner password (required on a bootstrap
                         node's first start; or BCN_OWNERPASS)
  --ownerpass-file FILE  read --ownerpass from the first line of FILE
  --balance N            initial owner balance (required on a bootstrap
                         node's first start)
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
  --explorer=false       do not serve the block explorer page on GET /
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
    const config = await askStartPasswords(nodeConfigFromFlags(flags), flags, {
      prompt: io.promptSecret,
    });
    const node = new Node(config, {
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
 * import { parseEventsFlag } from "./node_commands.ts";
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
 * An event in output: with `json`, one line of JSON with a named type and
 * the decoded transaction or block (`{"type":"tx","action":"validated",
 * "tx":{...}}`), else a text line (see the help). Throws a `DecodeError`
 * when its body is not the transaction or block its type says.
 *
 * @example
 * ```ts
 * import { formatEvent } from "./node_commands.ts";
 * import { txEvent } from "../chain/event.ts";
 * import { decodeSigTx } from "../chain/tx.ts";
 *
 * const tx = decodeSigTx('{"from":"a","to":"b","value":5,"nonce":1,"time":"2024-01-01T00:00:00Z","sig":""}');
 * formatEvent(txEvent(tx), false); // "tx validated <hash7>: a -> b 5"
 * ```
 */
export function formatEvent(event: Event | NodeEvent, json: boolean): string {
  const e = typeof event.type === "number"
    ? nodeEventOf(event as Event)
    : event as NodeEvent;
  if (json) return encodeNodeEvent(e);
  if (e.type === "tx") {
    const tx = e.tx;
    return `tx ${e.action} ${txHash(tx).slice(0, 7)}: ${
      shortAccount(tx.from)
    } -> ${shortAccount(tx.to)} ${encodeU64(tx.value)}`;
  }
  const b = e.block;
  return `blk ${e.action} ${encodeU64(b.number)} ${
    blockHash(b).slice(0, 7)
  } txs ${b.txs.length}`;
}

/** The client's event names of StreamSubscribe types ([] for all). */
function eventNames(types: bigint[]): ("tx" | "block")[] {
  if (types.includes(BigInt(EventType.All))) return [];
  return types.map((t) => t === BigInt(EventType.Tx) ? "tx" : "block");
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
one event JSON a line, the transaction or block decoded:
  {"type":"tx","action":"validated","tx":{<the transaction's JSON>}}
  {"type":"block","action":"validated","block":{<the block's JSON>}}

Flags:
  --node HOST:PORT     the node to listen to (required; or BCN_NODE)
  --events LIST        comma-separated event types: all, tx (transactions),
                       blk (blocks); default all
  --json               machine-readable output
`,
  async run({ node, flags }, io) {
    const events = eventNames(
      parseEventsFlag(optionalString(flags, "events")),
    );
    const json = flags.json === true;
    const stop = new AbortController();
    const removeListeners = onStop(io, () => stop.abort());
    try {
      await withClient(node, async (client) => {
        for await (
          const event of client.subscribe({ events, signal: stop.signal })
        ) {
          io.out(formatEvent(event, json));
        }
      });
    } finally {
      removeListeners();
    }
  },
});

// ---------------------------------------------------------- node status

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
  --node HOST:PORT     the node to ask (required; or BCN_NODE)
  --json               the node's JSON answer, one line
`,
  async run({ node, flags }, io) {
    const line = await withClient(
      node,
      async (client) =>
        flags.json ? await client.statusJson() : formatStatus(
          await client.status(),
        ),
    );
    io.out(line);
  },
});

/** The `bcn node ...` commands, in `bcn --help` order. */
export const NODE_COMMANDS: readonly Command[] = [
  NODE_START,
  NODE_SUBSCRIBE,
  NODE_STATUS,
];
