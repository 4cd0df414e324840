/**
 * `bcn node subscribe`: print a node's events (validated blocks and
 * transactions) as they come, until interrupted.
 *
 * @module
 */
import { decodeSigBlock } from "../chain/block.ts";
import {
  decodeEvent,
  encodeEvent,
  type Event,
  EventType,
} from "../chain/event.ts";
import { blockHash } from "../chain/block.ts";
import { DecodeError, encodeString, encodeU64 } from "../chain/json.ts";
import { decodeSigTx, txHash } from "../chain/tx.ts";
import { type Flags, optionalString, parseFlags, UsageError } from "./args.ts";
import {
  describeNetworkFailure,
  NodeError,
  requireNode,
  withNode,
} from "./rpc_errors.ts";
import { shortAccount } from "./format.ts";

/** Help for `bcn node subscribe`. */
export const NODE_SUBSCRIBE_HELP =
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
`;

const SUBSCRIBE_FLAGS = {
  node: { type: "string" },
  events: { type: "string" },
  json: { type: "boolean" },
} as const;

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
 * import { parseEventsFlag } from "./subscribe.ts";
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
 * import { formatEvent } from "./subscribe.ts";
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

/** Options of {@link nodeSubscribe}. */
export interface SubscribeOptions {
  /**
   * Ends the subscription cleanly when aborted, as SIGINT and SIGTERM do.
   */
  signal?: AbortSignal;
}

/**
 * Runs `bcn node subscribe`: resolves on SIGINT, SIGTERM or an abort of
 * `options.signal`; rejects with a one-line error when the node cannot be
 * reached (`cannot reach node ADDR: connection refused`), goes away (`lost
 * node ADDR: connection reset`), ends the stream (`node ADDR ended the event
 * stream`) or sends an event that does not decode.
 */
export async function nodeSubscribe(
  args: string[],
  options: SubscribeOptions = {},
): Promise<void> {
  const flags: Flags = parseFlags(args, SUBSCRIBE_FLAGS);
  if (flags.help) {
    console.log(NODE_SUBSCRIBE_HELP);
    return;
  }
  const addr = requireNode(flags);
  const types = parseEventsFlag(optionalString(flags, "events"));
  const json = flags.json === true;
  const stop = new AbortController();
  const onStop = (): void => stop.abort();
  options.signal?.addEventListener("abort", onStop, { once: true });
  if (options.signal?.aborted) stop.abort();
  for (const s of SIGNALS) Deno.addSignalListener(s, onStop);
  try {
    await withNode(addr, async ({ node }) => {
      let received = 0;
      try {
        for await (
          const res of node.streamSubscribe(
            { EventTypes: types },
            { signal: stop.signal },
          )
        ) {
          received++;
          console.log(formatEvent(decodeEvent(res.Event), json));
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
    for (const s of SIGNALS) Deno.removeSignalListener(s, onStop);
    options.signal?.removeEventListener("abort", onStop);
  }
}

const SIGNALS: Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT"]
  : ["SIGINT", "SIGTERM"];

/** The `bcn node subscribe` command, keyed as in `main.ts`. */
export const SUBSCRIBE_COMMANDS: Record<
  string,
  (args: string[]) => Promise<void>
> = {
  "node subscribe": (args: string[]): Promise<void> => nodeSubscribe(args),
};

/** Help text of `bcn node subscribe`, keyed like the command. */
export const SUBSCRIBE_HELP: Record<string, string> = {
  "node subscribe": NODE_SUBSCRIBE_HELP,
};
