/**
 * What the CLI tests share: a test chain, a fake node serving it on a free
 * loopback port, and commands run in-process with their output captured
 * through an injected {@link Io} (no patching of `console.log`).
 */
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { blockHash, encodeSigBlock } from "../../src/chain/block.ts";
import { blockEvent, encodeEvent, txEvent } from "../../src/chain/event.ts";
import {
  decodeMerkleProof,
  encodeMerkleProof,
  merkleProve,
  merkleVerify,
} from "../../src/chain/merkle.ts";
import { encodeSearchTx, type SearchTx } from "../../src/chain/search_tx.ts";
import { encodeSigTx, type SigTx, txHash } from "../../src/chain/tx.ts";
import { type Io, runCommand } from "../../src/cli/command.ts";
import { findCommand } from "../../src/cli/table.ts";
import { Account } from "../../src/rpc/gen/account_pb.ts";
import { Block } from "../../src/rpc/gen/block_pb.ts";
import { Node } from "../../src/rpc/gen/node_pb.ts";
import { Tx } from "../../src/rpc/gen/tx_pb.ts";
import { type RpcServer, startServer } from "../../src/rpc/server.ts";
import { TX_STATUS_HEADER } from "../../src/rpc/tx_service.ts";
import { makeChain } from "../fixtures.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Two blocks of three transactions each. */
export const CHAIN: ReturnType<typeof makeChain> = makeChain(2, 3);
/** The first transaction of the chain. */
export const TX: SigTx = CHAIN.blocks[0].txs[0];
/** An address nothing listens on (port 1), for checks made before a call. */
export const NODE = "127.0.0.1:1";
/** A hash-shaped value. */
export const H64: string = "a".repeat(64);
/** The account with a balance on the fake node. */
export const OWNER: string = CHAIN.owner.address;
/** The proof of the second transaction of block 1, as the fake node has it. */
export const PROOF: ReturnType<typeof merkleProve> = merkleProve(
  CHAIN.blocks[0].txs.map(txHash),
  1,
);

/** Transaction `txIndex` of block `blockIndex` as `tx search` finds it. */
export function searchTx(blockIndex: number, txIndex: number): SearchTx {
  const b = CHAIN.blocks[blockIndex];
  return {
    ...b.txs[txIndex],
    blockNumber: b.number,
    blockHash: blockHash(b),
    merkleRoot: b.merkleRoot,
  };
}

/** An {@link Io} that records what a command writes. */
export interface CapturedIo extends Io {
  /** The lines written to `out`, multi-line writes split. */
  readonly lines: string[];
  /** The lines written to `err`. */
  readonly errors: string[];
}

/**
 * An {@link Io} recording the output; `input` is what `readInput` returns,
 * `onOut` sees every line written to `out`.
 */
export function captureIo(
  options: { input?: string; signal?: AbortSignal; onOut?: () => void } = {},
): CapturedIo {
  const lines: string[] = [];
  const errors: string[] = [];
  return {
    lines,
    errors,
    out: (text) => {
      lines.push(...text.split("\n"));
      options.onOut?.();
    },
    err: (text) => errors.push(...text.split("\n")),
    readInput: () => Promise.resolve(options.input ?? ""),
    signal: options.signal,
  };
}

/**
 * Runs command `name` (from the table) in-process with `args`; returns the
 * lines it wrote to `out`.
 */
export async function run(
  name: string,
  args: string[],
  options: { input?: string } = {},
): Promise<string[]> {
  const found = findCommand(name.split(" "));
  if (found === undefined || found.command.name !== name) {
    throw new Error(`no command ${name}`);
  }
  const io = captureIo(options);
  await runCommand(found.command, args, io);
  return io.lines;
}

/**
 * The services of a fake node serving {@link CHAIN}: one balance
 * ({@link OWNER}'s), password `secret`, search by receiver or sender, a proof of one
 * transaction, blocks by number, and event streams that end when
 * `events.ended`, else stay open.
 */
export function fakeNode(
  events: { ended: boolean },
): (r: ConnectRouter) => void {
  return (router) => {
    router.service(Account, {
      accountCreate: (req) => {
        if (req.Password.length < 5) {
          throw new ConnectError("password too short", Code.InvalidArgument);
        }
        return { Address: H64 };
      },
      accountBalance: (req) => {
        if (req.Address !== OWNER) {
          throw new ConnectError(
            `account ${req.Address} has no balance`,
            Code.NotFound,
          );
        }
        return { Balance: 1_000_000n };
      },
    });
    router.service(Tx, {
      txSign: (req) => {
        if (req.Password !== "secret") {
          throw new ConnectError("wrong password", Code.PermissionDenied);
        }
        return { Tx: enc.encode(encodeSigTx(TX)) };
      },
      txSend: (req, ctx) => {
        const hash = txHash(TX);
        const ahead = CHAIN.blocks[1].txs[0];
        if (dec.decode(req.Tx) === encodeSigTx(ahead)) {
          ctx.responseHeader.set(TX_STATUS_HEADER, "queued");
          return { Hash: txHash(ahead) };
        }
        if (dec.decode(req.Tx) !== encodeSigTx(TX)) {
          throw new ConnectError(
            `tx ${hash}: insufficient funds: balance 0, value 1`,
            Code.FailedPrecondition,
          );
        }
        return { Hash: hash };
      },
      async *txSearch(req) {
        for (const [bi, b] of CHAIN.blocks.entries()) {
          for (const [ti, t] of b.txs.entries()) {
            if (
              (req.To !== "" && t.to.startsWith(req.To)) ||
              (req.From !== "" && t.from.startsWith(req.From))
            ) {
              yield { Tx: enc.encode(encodeSearchTx(searchTx(bi, ti))) };
            }
          }
        }
      },
      txProve: (req) => {
        if (req.Hash !== txHash(CHAIN.blocks[0].txs[1])) {
          throw new ConnectError(`tx ${req.Hash} not found`, Code.NotFound);
        }
        return { MerkleProof: enc.encode(encodeMerkleProof(PROOF)) };
      },
      txVerify: (req) => {
        const proof = decodeMerkleProof(dec.decode(req.MerkleProof), "");
        return { Valid: merkleVerify(req.Hash, proof, req.MerkleRoot) };
      },
    });
    router.service(Block, {
      async *blockSearch(req, ctx) {
        const b = CHAIN.blocks.find((b) => b.number === req.Number);
        if (b === undefined) return;
        yield { Block: enc.encode(encodeSigBlock(b)) };
        // Like a lazy node: keep the stream open until the client leaves.
        await new Promise((resolve) =>
          ctx.signal.addEventListener("abort", resolve)
        );
      },
    });
    router.service(Node, {
      async *streamSubscribe(req, ctx) {
        const blocks = !req.EventTypes.includes(1n);
        for (const b of CHAIN.blocks) {
          const e = blocks ? blockEvent(b) : txEvent(b.txs[0]);
          yield { Event: enc.encode(encodeEvent(e)) };
        }
        if (events.ended) return;
        await new Promise((resolve) =>
          ctx.signal.addEventListener("abort", resolve)
        );
      },
    });
  };
}

/** Runs `fn` with the address of a {@link fakeNode}, stopped afterwards. */
export async function withFake(
  fn: (addr: string) => Promise<void>,
  events: { ended: boolean } = { ended: false },
): Promise<void> {
  const server: RpcServer = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    routes: fakeNode(events),
  });
  try {
    await fn(server.addr);
  } finally {
    await server.close();
  }
}
