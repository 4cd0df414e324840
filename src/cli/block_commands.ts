/**
 * `bcn block search`: find a confirmed block by number, hash or parent.
 *
 * @module
 */
import { blockHash, encodeSigBlock, type SigBlock } from "../chain/block.ts";
import { encodeU64 } from "../chain/json.ts";
import { formatTime } from "../chain/time.ts";
import type { BlockQuery } from "../client/client.ts";
import {
  type Flags,
  oneOf,
  optionalString,
  parseU64Flag,
  UsageError,
} from "./args.ts";
import { clientCommand, type Command } from "./command.ts";
import { formatTx } from "./format.ts";
import { parseHexPrefix, withClient } from "./use_client.ts";

/** What `bcn block search` asks for. */
export interface BlockSearchQuery {
  /** The flag given. */
  readonly flag: "number" | "hash" | "parent";
  /** Its value: the number in decimal, or the lowercase hex prefix. */
  readonly value: string;
  /** The client's search. */
  readonly request: BlockQuery;
}

const FLAG_NAMES = ["number", "hash", "parent"] as const;

/**
 * The search of `bcn block search` flags: exactly one of `--number` (from 1),
 * `--hash` and `--parent` (hex prefixes); a usage error otherwise.
 *
 * @example
 * ```ts
 * import { blockSearchQuery } from "./block_commands.ts";
 *
 * blockSearchQuery({ number: "3" }).request; // { number: 3n }
 * ```
 */
export function blockSearchQuery(flags: Flags): BlockSearchQuery {
  const flag = oneOf(flags, FLAG_NAMES);
  const text = optionalString(flags, flag) ?? "";
  if (flag === "number") {
    const n = parseU64Flag("number", text);
    if (n === 0n) {
      throw new UsageError("--number: blocks are numbered from 1");
    }
    return { flag, value: encodeU64(n), request: { number: n } };
  }
  const prefix = parseHexPrefix(flag, text);
  return {
    flag,
    value: prefix,
    request: flag === "hash" ? { hash: prefix } : { parent: prefix },
  };
}

/**
 * A block in text output: a header line, then one indented line per
 * transaction (see {@link formatTx}).
 *
 * @example
 * ```ts
 * import { formatBlock } from "./block_commands.ts";
 * import { decodeSigBlock } from "../chain/block.ts";
 *
 * declare const text: string; // a SigBlock's JSON
 * console.log(formatBlock(decodeSigBlock(text)));
 * // blk 1: <hash> -> <parent7> txs 1 mrk <root7> 2024-05-01T10:00:00Z
 * //   tx <hash>: <from7> -> <to7> 5 nonce 1
 * ```
 */
export function formatBlock(b: SigBlock): string {
  const head = `blk ${encodeU64(b.number)}: ${blockHash(b)} -> ${
    b.parent.slice(0, 7)
  } txs ${b.txs.length} mrk ${b.merkleRoot.slice(0, 7)} ${formatTime(b.time)}`;
  return [head, ...b.txs.map((tx) => `  ${formatTx(tx)}`)].join("\n");
}

/** `bcn block search`. */
export const BLOCK_SEARCH: Command = clientCommand({
  name: "block search",
  summary: "find a confirmed block by number, hash or parent",
  flags: {
    number: { type: "string" },
    hash: { type: "string" },
    parent: { type: "string" },
    json: { type: "boolean" },
  },
  help:
    `Usage: bcn block search --node HOST:PORT (--number N | --hash PREFIX | --parent PREFIX) [--json]

Prints the first confirmed block with that number, or whose hash or parent
hash starts with PREFIX: a header line, then one line per transaction:
  blk <number>: <hash> -> <parent7> txs <count> mrk <merkle root7> <time>
    tx <hash>: <from7> -> <to7> <value> nonce <nonce>
(hashes and addresses ending in 7 are shortened to 7 characters). With
--json, the signed block's JSON on one line. No match is an error.

Flags:
  --node HOST:PORT    the node to ask (required; or BCN_NODE)
  --number N          the block number, from 1
  --hash PREFIX       block hash prefix, hex
  --parent PREFIX     parent block hash prefix, hex
  --json              machine-readable output
Exactly one of --number, --hash and --parent.
`,
  async run({ node, flags }, io) {
    const query = blockSearchQuery(flags);
    const block = await withClient(
      node,
      (client) => client.searchBlock(query.request),
    );
    if (block === undefined) {
      throw new Error(`no block matches --${query.flag} ${query.value}`);
    }
    io.out(flags.json === true ? encodeSigBlock(block) : formatBlock(block));
  },
});

/** The `bcn block ...` commands, in `bcn --help` order. */
export const BLOCK_COMMANDS: readonly Command[] = [BLOCK_SEARCH];
