/**
 * `bcn tx ...`: have a node sign a transaction, send one, search confirmed
 * transactions, prove one and verify a proof.
 *
 * @module
 */
import {
  DecodeError,
  encodeString,
  encodeU64,
  parseHash,
} from "../chain/json.ts";
import {
  decodeMerkleProof,
  encodeMerkleProof,
  type MerkleStep,
} from "../chain/merkle.ts";
import { encodeSearchTx, type SearchTx } from "../chain/search_tx.ts";
import { decodeSigTx, encodeSigTx, type SigTx } from "../chain/tx.ts";
import type { TxQuery } from "../client/client.ts";
import { signTransfer } from "../client/sign.ts";
import {
  type Flags,
  oneOf,
  optionalString,
  parseU64Flag,
  requireString,
  UsageError,
} from "./args.ts";
import { clientCommand, type Command, type Io } from "./command.ts";
import { formatTx } from "./format.ts";
import { requireNode } from "./rpc_errors.ts";
import {
  parseAddressFlag,
  parseHexPrefix,
  parsePasswordFlag,
  withClient,
} from "./use_client.ts";

// -------------------------------------------------------------- formats

/**
 * One `bcn tx search` result in text output: {@link formatTx}, then
 * ` blk <block number> <block hash7>`.
 *
 * @example
 * ```ts
 * import { decodeSearchTx } from "../chain/search_tx.ts";
 * import { formatSearchTx } from "./tx_commands.ts";
 *
 * const tx = decodeSearchTx('{"from":"a","to":"b","value":5,"nonce":1,"time":"2024-01-01T00:00:00Z","sig":"",' +
 *   `"blockNumber":3,"blockHash":"${"c".repeat(64)}","merkleRoot":"${"d".repeat(64)}"}`);
 * formatSearchTx(tx); // "tx <hash>: a -> b 5 nonce 1 blk 3 ccccccc"
 * ```
 */
export function formatSearchTx(tx: SearchTx): string {
  return `${formatTx(tx)} blk ${encodeU64(tx.blockNumber)} ${
    tx.blockHash.slice(0, 7)
  }`;
}

/**
 * The output line of `bcn tx send`; `queued` when the node keeps the
 * transaction until the nonces before it arrive.
 *
 * @example
 * ```ts
 * import { formatTxSent } from "./tx_commands.ts";
 *
 * formatTxSent("ab".repeat(32), { json: true }); // '{"hash":"abab..."}'
 * formatTxSent("ab".repeat(32), { queued: true }); // 'tx abab... queued'
 * ```
 */
export function formatTxSent(
  hash: string,
  options: { json?: boolean; queued?: boolean } = {},
): string {
  if (options.json) {
    return `{"hash":${encodeString(hash)}${
      options.queued ? ',"queued":true' : ""
    }}`;
  }
  return options.queued ? `tx ${hash} queued` : `tx ${hash}`;
}

/**
 * The output line of `bcn tx verify`.
 *
 * @example
 * ```ts
 * import { formatVerdict } from "./tx_commands.ts";
 *
 * formatVerdict("ab".repeat(32), false, false); // "tx abab... INVALID"
 * formatVerdict("ab".repeat(32), true, true); // '{"hash":"abab...","valid":true}'
 * ```
 */
export function formatVerdict(
  hash: string,
  valid: boolean,
  json: boolean,
): string {
  if (json) return `{"hash":${encodeString(hash)},"valid":${valid}}`;
  return `tx ${hash} ${valid ? "valid" : "INVALID"}`;
}

// ---------------------------------------------------------------- flags

/**
 * A hash flag: exactly 64 hex characters, returned lowercase; a usage error
 * naming the flag otherwise.
 *
 * @example
 * ```ts
 * import { parseHashFlag } from "./tx_commands.ts";
 *
 * parseHashFlag("hash", "AB".repeat(32)); // "abab..."
 * ```
 */
export function parseHashFlag(name: string, value: string): string {
  try {
    return parseHash(value, `--${name}`);
  } catch (e) {
    if (e instanceof DecodeError) {
      throw new UsageError(`${e.message}, got ${encodeString(value)}`);
    }
    throw e;
  }
}

/**
 * Checks a `--sigtx` value: the signed transaction it holds, or a usage error
 * naming the bad field (`--sigtx: value: expected an unsigned 64-bit
 * integer`).
 *
 * @example
 * ```ts
 * import { parseSigTxFlag } from "./tx_commands.ts";
 *
 * parseSigTxFlag('{"from":"a","to":"b","value":1,"nonce":1,"time":"2024-01-01T00:00:00Z","sig":""}');
 * ```
 */
export function parseSigTxFlag(text: string): SigTx {
  try {
    return decodeSigTx(text, "");
  } catch (e) {
    if (e instanceof DecodeError) {
      throw new UsageError(`--sigtx: ${e.message}`);
    }
    throw e;
  }
}

/**
 * Checks a `--mrkproof` value: the non-empty proof it holds, or a usage error
 * naming the bad entry (`--mrkproof: [0].pos: expected 1 (left) or 2
 * (right)`).
 *
 * @example
 * ```ts
 * import { parseProofFlag } from "./tx_commands.ts";
 *
 * parseProofFlag(`[{"hash":"${"a".repeat(64)}","pos":1}]`);
 * ```
 */
export function parseProofFlag(text: string): MerkleStep[] {
  let proof: MerkleStep[];
  try {
    proof = decodeMerkleProof(text, "");
  } catch (e) {
    if (e instanceof DecodeError) {
      throw new UsageError(`--mrkproof: ${e.message}`);
    }
    throw e;
  }
  if (proof.length === 0) throw new UsageError("--mrkproof: empty proof");
  return proof;
}

/** What `bcn tx search` asks for: the request field, its flag and prefix. */
export interface TxSearchQuery {
  /** The flag given, such as `hash`. */
  readonly flag: "hash" | "from" | "to" | "account";
  /** The prefix searched for (hex ones lowercased). */
  readonly prefix: string;
}

const SEARCH_FLAG_NAMES = ["hash", "from", "to", "account"] as const;

/**
 * The search of `bcn tx search` flags: exactly one of `--hash`, `--from`,
 * `--to` and `--account`, with a non-empty prefix (hex for hash and from).
 *
 * @example
 * ```ts
 * import { txSearchQuery } from "./tx_commands.ts";
 *
 * txSearchQuery({ from: "AB12" }); // { flag: "from", prefix: "ab12" }
 * ```
 */
export function txSearchQuery(flags: Flags): TxSearchQuery {
  const flag = oneOf(flags, SEARCH_FLAG_NAMES);
  const value = optionalString(flags, flag) ?? "";
  if (flag === "hash" || flag === "from") {
    return { flag, prefix: parseHexPrefix(flag, value) };
  }
  if (value === "") throw new UsageError(`--${flag}: empty prefix`);
  return { flag, prefix: value };
}

/** The client's search of a query. */
function searchQuery(q: TxSearchQuery): TxQuery {
  switch (q.flag) {
    case "hash":
      return { hash: q.prefix };
    case "from":
      return { from: q.prefix };
    case "to":
      return { to: q.prefix };
    case "account":
      return { account: q.prefix };
  }
}

/** A flag's text, or the whole input's when it is `-`. */
async function flagOrStdin(
  flags: Flags,
  name: string,
  io: Io,
): Promise<string> {
  const value = requireString(flags, name);
  if (value !== "-") return value;
  const text = (await io.readInput()).trim();
  if (text === "") throw new UsageError(`--${name} -: nothing on stdin`);
  return text;
}

// ------------------------------------------------------------- commands

/** `bcn tx sign`. */
export const TX_SIGN: Command = {
  name: "tx sign",
  summary: "sign a transfer with a key file, or on a node holding the key",
  flags: {
    node: { type: "string", env: "BCN_NODE" },
    keystore: { type: "string" },
    nonce: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    value: { type: "string" },
    ownerpass: {
      type: "string",
      env: "BCN_OWNERPASS",
      file: "ownerpass-file",
      prompt: "password of the sender",
    },
    "ownerpass-file": { type: "string" },
    json: { type: "boolean" },
  },
  help:
    `Usage: bcn tx sign --node HOST:PORT --from ADDRESS --to ADDRESS --value N --ownerpass PASS [--json]
       bcn tx sign --keystore DIR (--nonce N | --node HOST:PORT) --from ADDRESS --to ADDRESS --value N --ownerpass PASS [--json]

Signs a transfer and prints the signed transaction's JSON, for
'bcn tx send --sigtx'. Nothing is sent. The output is the same with --json.

With --keystore, signs here with the sender's key file from DIR: the
password never leaves this machine. The nonce is --nonce, or else the next
one after the sender's confirmed transactions on --node (give --nonce when
the sender has pending ones). No node is needed when --nonce is given.

Without --keystore, has the node sign with the sender's key from its own key
store (the password is sent to it; the nonce is the sender's pending nonce
+ 1).

Flags:
  --keystore DIR      key store holding the sender's key file: sign here
  --nonce N           the sender's nonce (with --keystore)
  --node HOST:PORT    the node (required without --keystore; or BCN_NODE):
                      it signs with the sender's key, or, with --keystore
                      and no --nonce, tells the sender's nonce
  --from ADDRESS      the sender (required)
  --to ADDRESS        the receiver (required)
  --value N           the amount, an unsigned 64-bit integer (required)
  --ownerpass PASS    the sender's password (required; or BCN_OWNERPASS,
                      or asked on a terminal)
  --ownerpass-file FILE
                      read the password from the first line of FILE
  --json              machine-readable output (the same JSON)
`,
  async run(flags, io) {
    const keyStore = optionalString(flags, "keystore");
    const node = keyStore === undefined || flags.node !== undefined
      ? requireNode(flags)
      : undefined;
    const fromFlag = requireString(flags, "from");
    const to = requireString(flags, "to");
    const value = parseU64Flag("value", requireString(flags, "value"));
    const from = parseAddressFlag("from", fromFlag);
    parseAddressFlag("to", to);
    if (flags.ownerpass === undefined) {
      // Not given by flag, file or environment: asked on a terminal.
      const typed = await io.promptSecret?.("password of the sender");
      if (typed) flags.ownerpass = typed;
    }
    const password = parsePasswordFlag(
      "ownerpass",
      requireString(flags, "ownerpass"),
    );
    const nonceFlag = optionalString(flags, "nonce");
    if (keyStore === undefined) {
      if (nonceFlag !== undefined) {
        throw new UsageError(
          "--nonce: only with --keystore (a node signing picks the nonce)",
        );
      }
      const tx = await withClient(
        node!,
        (client) => client.signOnNode({ from, to, value }, password),
      );
      io.out(encodeSigTx(tx));
      return;
    }
    const nonce = nonceFlag === undefined
      ? undefined
      : parseU64Flag("nonce", nonceFlag);
    if (nonce === undefined && node === undefined) {
      throw new UsageError(
        "give --nonce N, or --node HOST:PORT to take the next nonce from the node",
      );
    }
    const key = { keyStore, password };
    const tx = node === undefined
      ? await signTransfer({ from, to, value, nonce }, key)
      : await withClient(
        node,
        (client) => client.sign({ from, to, value, nonce }, key),
      );
    io.out(encodeSigTx(tx));
  },
};

/** `bcn tx send`. */
export const TX_SEND: Command = clientCommand({
  name: "tx send",
  summary: "send a signed transaction to a node",
  flags: {
    sigtx: { type: "string" },
    json: { type: "boolean" },
  },
  help: `Usage: bcn tx send --node HOST:PORT --sigtx JSON [--json]

Checks a signed transaction's JSON, sends its canonical form to the node,
which applies it to its pending state and relays it, and prints its hash:
  tx <hash>
With --json: {"hash":"<hash>"}
A transaction whose nonce is ahead of the sender's next one is kept queued by
a bcn node until the nonces before it arrive (or dropped after 10 minutes):
  tx <hash> queued
With --json: {"hash":"<hash>","queued":true}
A transaction the node rejects (bad signature or nonce, insufficient funds,
no room in its pool) is an error.

Flags:
  --node HOST:PORT   the node to send to (required; or BCN_NODE)
  --sigtx JSON       the signed transaction, as 'bcn tx sign' prints it;
                     - reads it from stdin (required)
  --json             machine-readable output
`,
  async run({ node, flags }, io) {
    const sigTx = parseSigTxFlag(await flagOrStdin(flags, "sigtx", io));
    const { hash, queued } = await withClient(
      node,
      (client) => client.send(sigTx),
    );
    io.out(formatTxSent(hash, { json: flags.json === true, queued }));
  },
});

/** `bcn tx search`. */
export const TX_SEARCH: Command = clientCommand({
  name: "tx search",
  summary: "find confirmed transactions by hash, sender or receiver",
  flags: {
    hash: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    account: { type: "string" },
    json: { type: "boolean" },
  },
  help:
    `Usage: bcn tx search --node HOST:PORT (--hash | --from | --to | --account) PREFIX [--json]

Prints the confirmed transactions whose hash, sender, receiver, or sender or
receiver starts with PREFIX (the first match only for --hash), one a line:
  tx <hash>: <from> -> <to> <value> nonce <nonce> blk <block number> <block hash>
where <from>, <to> and <block hash> are shortened to 7 characters (a receiver
that is not an address is shown in full, quoted when it holds more than
letters, digits and ._:@+-). With --json, one SearchTx JSON a line as the node
returned it: the transaction's fields, then blockNumber, blockHash and
merkleRoot. No match is an error.

Flags:
  --node HOST:PORT    the node to ask (required; or BCN_NODE)
  --hash PREFIX       transaction hash prefix, hex
  --from PREFIX       sender address prefix, hex
  --to PREFIX         receiver prefix
  --account PREFIX    sender or receiver prefix
  --json              machine-readable output
Exactly one of --hash, --from, --to and --account.
`,
  async run({ node, flags }, io) {
    const query = txSearchQuery(flags);
    const json = flags.json === true;
    const found = await withClient(node, async (client) => {
      let n = 0;
      for await (const st of client.searchTxs(searchQuery(query))) {
        io.out(json ? encodeSearchTx(st) : formatSearchTx(st));
        n++;
      }
      return n;
    });
    if (found === 0) {
      throw new Error(
        `no transaction matches --${query.flag} ${query.prefix}`,
      );
    }
  },
});

/** `bcn tx prove`. */
export const TX_PROVE: Command = clientCommand({
  name: "tx prove",
  summary: "print the Merkle proof of a confirmed transaction",
  flags: {
    hash: { type: "string" },
    json: { type: "boolean" },
  },
  help: `Usage: bcn tx prove --node HOST:PORT --hash HASH [--json]

Prints the Merkle proof that a confirmed transaction is in its block, as JSON
for 'bcn tx verify --mrkproof':
  [{"hash":"<hash>","pos":1},{"hash":"<hash>","pos":2},...]
(pos 1: the hash is on the left, 2: on the right). The output is the same
with --json. An unknown transaction is an error.

Flags:
  --node HOST:PORT   the node to ask (required; or BCN_NODE)
  --hash HASH        the transaction hash, 64 hex characters (required)
  --json             machine-readable output (the same JSON)
`,
  async run({ node, flags }, io) {
    const hash = parseHashFlag("hash", requireString(flags, "hash"));
    const proof = await withClient(node, (client) => client.prove(hash));
    io.out(encodeMerkleProof(proof));
  },
});

/** `bcn tx verify`. */
export const TX_VERIFY: Command = clientCommand({
  name: "tx verify",
  summary: "check a Merkle proof against a Merkle root",
  flags: {
    hash: { type: "string" },
    mrkproof: { type: "string" },
    mrkroot: { type: "string" },
    json: { type: "boolean" },
  },
  help:
    `Usage: bcn tx verify --node HOST:PORT --hash HASH --mrkproof JSON --mrkroot ROOT [--json]

Has the node check that a Merkle proof links a transaction hash to a Merkle
root (a block's merkleRoot) and prints the verdict:
  tx <hash> valid
  tx <hash> INVALID
With --json: {"hash":"<hash>","valid":true} or ... "valid":false}.
Both verdicts exit with code 0.

Flags:
  --node HOST:PORT   the node to ask (required; or BCN_NODE)
  --hash HASH        the transaction hash, 64 hex characters (required)
  --mrkproof JSON    the proof, as 'bcn tx prove' prints it; - reads it from
                     stdin (required)
  --mrkroot ROOT     the Merkle root, 64 hex characters (required)
  --json             machine-readable output
`,
  async run({ node, flags }, io) {
    const hash = parseHashFlag("hash", requireString(flags, "hash"));
    const root = parseHashFlag("mrkroot", requireString(flags, "mrkroot"));
    const proof = parseProofFlag(await flagOrStdin(flags, "mrkproof", io));
    const valid = await withClient(
      node,
      (client) => client.verify(hash, proof, root),
    );
    io.out(formatVerdict(hash, valid, flags.json === true));
  },
});

/** The `bcn tx ...` commands, in `bcn --help` order. */
export const TX_COMMANDS: readonly Command[] = [
  TX_SIGN,
  TX_SEND,
  TX_SEARCH,
  TX_PROVE,
  TX_VERIFY,
];
