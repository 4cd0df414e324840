import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../assert.ts";
import {
  BCN_PERMISSIONS,
  CONFIG_PATH,
  DENO,
  MAIN_PATH,
} from "../e2e/helpers.ts";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { blockHash, encodeSigBlock } from "../../src/chain/block.ts";
import {
  blockEvent,
  decodeEvent,
  encodeEvent,
  txEvent,
} from "../../src/chain/event.ts";
import { DecodeError } from "../../src/chain/json.ts";
import { formatTime } from "../../src/chain/time.ts";
import {
  encodeMerkleProof,
  merkleProve,
  merkleVerify,
} from "../../src/chain/merkle.ts";
import {
  decodeSearchTx,
  encodeSearchTx,
  type SearchTx,
} from "../../src/chain/search_tx.ts";
import { encodeSigTx, type SigTx, txHash } from "../../src/chain/tx.ts";
import { Account } from "../../src/rpc/gen/account_pb.ts";
import { Block } from "../../src/rpc/gen/block_pb.ts";
import { Node } from "../../src/rpc/gen/node_pb.ts";
import { Tx } from "../../src/rpc/gen/tx_pb.ts";
import { type RpcServer, startServer } from "../../src/rpc/server.ts";
import { TX_STATUS_HEADER } from "../../src/rpc/tx.ts";
import { UsageError } from "../../src/cli/args.ts";
import { nodeConfigFromFlags } from "../../src/cli/node.ts";
import {
  ACCOUNT_COMMANDS,
  formatAccountCreated,
  formatBalance,
} from "../../src/cli/account.ts";
import {
  BLOCK_COMMANDS,
  blockSearchQuery,
  formatBlock,
} from "../../src/cli/block.ts";
import {
  describeRpcError,
  NodeError,
  nodeError,
  requireNode,
} from "../../src/cli/rpc_errors.ts";
import {
  formatEvent,
  nodeSubscribe,
  parseEventsFlag,
} from "../../src/cli/subscribe.ts";
import {
  formatSearchTx,
  formatTxSent,
  formatVerdict,
  parseHashFlag,
  parseProofFlag,
  parseSigTxFlag,
  TX_COMMANDS,
  txSearchQuery,
} from "../../src/cli/tx.ts";
import { formatTx, shortAccount } from "../../src/cli/format.ts";
import { makeChain } from "../fixtures.ts";

const enc = new TextEncoder();
const CHAIN = makeChain(2, 3);
const TX: SigTx = CHAIN.blocks[0].txs[0];
const NODE = "127.0.0.1:1";
const H64 = "a".repeat(64);

function searchTx(blockIndex: number, txIndex: number): SearchTx {
  const b = CHAIN.blocks[blockIndex];
  return {
    ...b.txs[txIndex],
    blockNumber: b.number,
    blockHash: blockHash(b),
    merkleRoot: b.merkleRoot,
  };
}

const COMMANDS: Record<string, (args: string[]) => Promise<void>> = {
  ...ACCOUNT_COMMANDS,
  ...TX_COMMANDS,
  ...BLOCK_COMMANDS,
  "node subscribe": (args: string[]) => nodeSubscribe(args),
};

/** Runs a command in-process; returns its stdout lines. */
async function run(
  command: string,
  args: string[],
): Promise<string[]> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...data: unknown[]) => {
    lines.push(data.map(String).join(" "));
  };
  try {
    await COMMANDS[command](args);
  } finally {
    console.log = log;
  }
  return lines.join("\n").split("\n");
}

// ------------------------------------------------------- flag validation

Deno.test("every command needs --node", async () => {
  for (const [name, command] of Object.entries(COMMANDS)) {
    await assertRejects(() => command([]), UsageError, "missing --node");
    assert(name.length > 0);
  }
  await assertRejects(
    () => run("account balance", ["--node", "nohost", "--account", "a"]),
    UsageError,
    '--node: invalid address "nohost": expected host:port',
  );
  assertEquals(requireNode({ node: "[::1]:1122" }), "[::1]:1122");
});

Deno.test("required flags and their env fallbacks", async () => {
  await assertRejects(
    () => run("account create", ["--node", NODE]),
    UsageError,
    "missing --ownerpass",
  );
  await assertRejects(
    () => run("account balance", ["--node", NODE]),
    UsageError,
    "missing --account",
  );
  await assertRejects(
    () => run("tx sign", ["--node", NODE, "--from", "a", "--to", "b"]),
    UsageError,
    "missing --value",
  );
  await assertRejects(
    () => run("tx send", ["--node", NODE, "--bogus"]),
    UsageError,
    "unknown flag --bogus",
  );
});

Deno.test("tx sign rejects a bad --value", async () => {
  for (const value of ["-1", "1.5", "x", "18446744073709551616", "01"]) {
    await assertRejects(
      () =>
        run("tx sign", [
          "--node",
          NODE,
          "--from",
          "a",
          "--to",
          "b",
          `--value=${value}`,
          "--ownerpass",
          "secret",
        ]),
      UsageError,
      "--value: expected an unsigned 64-bit integer",
    );
  }
});

Deno.test("tx search needs exactly one search flag", async () => {
  await assertRejects(
    () => run("tx search", ["--node", NODE]),
    UsageError,
    "give one of --hash, --from, --to and --account",
  );
  await assertRejects(
    () => run("tx search", ["--node", NODE, "--hash", "ab", "--from", "cd"]),
    UsageError,
    "give only one of --hash, --from, --to and --account, not --hash and --from",
  );
  assertThrows(
    () => txSearchQuery({ hash: "xyz" }),
    UsageError,
    '--hash: expected a prefix of 1 to 64 hex characters, got "xyz"',
  );
  assertThrows(() => txSearchQuery({ to: "" }), UsageError, "--to: empty");
  assertEquals(txSearchQuery({ from: "AB12" }), {
    flag: "from",
    prefix: "ab12",
  });
  assertEquals(txSearchQuery({ to: "bob" }), { flag: "to", prefix: "bob" });
});

Deno.test("block search flags", () => {
  assertThrows(
    () => blockSearchQuery({}),
    UsageError,
    "give one of --number, --hash and --parent",
  );
  assertThrows(
    () => blockSearchQuery({ number: "1", parent: "ab" }),
    UsageError,
    "give only one of --number, --hash and --parent, not --number and --parent",
  );
  assertThrows(
    () => blockSearchQuery({ number: "0" }),
    UsageError,
    "--number: blocks are numbered from 1",
  );
  assertThrows(
    () => blockSearchQuery({ number: "-2" }),
    UsageError,
    "--number: expected an unsigned 64-bit integer",
  );
  assertEquals(blockSearchQuery({ number: "7" }).request, { Number: 7n });
  assertEquals(blockSearchQuery({ hash: "ABc" }).request, { Hash: "abc" });
  assertEquals(blockSearchQuery({ parent: "0f" }).request, { Parent: "0f" });
});

Deno.test("node subscribe --events", () => {
  assertEquals(parseEventsFlag(undefined), [0n]);
  assertEquals(parseEventsFlag("all"), [0n]);
  assertEquals(parseEventsFlag("tx"), [1n]);
  assertEquals(parseEventsFlag("blk,tx,blk"), [2n, 1n]);
  assertEquals(parseEventsFlag("tx,all"), [0n]);
  for (const bad of ["", "block", "tx,", "TX", "1", "constructor"]) {
    assertThrows(
      () => parseEventsFlag(bad),
      UsageError,
      "--events: expected a comma-separated list of all, tx and blk",
    );
  }
});

Deno.test("tx send names the bad field of --sigtx", async () => {
  const good = encodeSigTx(TX);
  assertEquals(encodeSigTx(parseSigTxFlag(good)), good);
  const cases: [string, string][] = [
    [good.replace(/"value":\d+/, '"value":"1"'), "--sigtx: value: expected"],
    [good.replace(/,"sig":"[^"]*"/, ""), "--sigtx: sig: missing"],
    [good.replace(/"time":"[^"]*"/, '"time":"now"'), "--sigtx: time:"],
    ["[1]", "--sigtx: expected an object"],
    ["{", "--sigtx: invalid JSON at offset 1"],
  ];
  for (const [text, message] of cases) {
    assertThrows(() => parseSigTxFlag(text), UsageError, message);
    await assertRejects(
      () => run("tx send", ["--node", NODE, "--sigtx", text]),
      UsageError,
      message,
    );
  }
});

Deno.test("hashes and proofs are checked before any call", async () => {
  await assertRejects(
    () => run("tx prove", ["--node", NODE, "--hash", "abc"]),
    UsageError,
    '--hash: expected a hash of 64 hex characters, got "abc"',
  );
  assertEquals(parseHashFlag("hash", "AB".repeat(32)), "ab".repeat(32));
  const proof = encodeMerkleProof([{ hash: H64, pos: 1 }]);
  await assertRejects(
    () =>
      run("tx verify", [
        "--node",
        NODE,
        "--hash",
        H64,
        "--mrkproof",
        proof,
        "--mrkroot",
        "a".repeat(63),
      ]),
    UsageError,
    "--mrkroot: expected a hash of 64 hex characters",
  );
  assertThrows(
    () => parseProofFlag(`[{"hash":"${H64}","pos":3}]`),
    UsageError,
    "--mrkproof: [0].pos: expected 1 (left) or 2 (right)",
  );
  assertThrows(
    () => parseProofFlag(`[{"hash":"abc","pos":1}]`),
    UsageError,
    "--mrkproof: [0].hash: expected a hash of 64 hex characters",
  );
  assertThrows(() => parseProofFlag("[]"), UsageError, "--mrkproof: empty");
  assertEquals(parseProofFlag(proof), [{ hash: H64, pos: 1 }]);
});

Deno.test("--help prints the usage and calls nothing", async () => {
  for (const name of Object.keys(COMMANDS)) {
    const out = await run(name, ["--help"]);
    assert(out[0].startsWith(`Usage: bcn ${name} --node HOST:PORT`), name);
    assert(out.some((l) => l.includes("--json")), name);
  }
});

// ------------------------------------------------------------- formats

Deno.test("account formats", () => {
  assertEquals(formatAccountCreated(H64, false), `acc ${H64}`);
  assertEquals(formatAccountCreated(H64, true), `{"address":"${H64}"}`);
  assertEquals(formatBalance(H64, 42n, false), `acc ${H64}: 42`);
  assertEquals(
    formatBalance(H64, 18446744073709551615n, true),
    `{"address":"${H64}","balance":18446744073709551615}`,
  );
  assertEquals(
    formatBalance('a"<b', 0n, true),
    '{"address":"a\\"\\u003cb","balance":0}',
  );
});

Deno.test("tx formats", () => {
  const hash = txHash(TX);
  assertEquals(formatTxSent(hash), `tx ${hash}`);
  assertEquals(formatTxSent(hash, { json: true }), `{"hash":"${hash}"}`);
  assertEquals(formatTxSent(hash, { queued: true }), `tx ${hash} queued`);
  assertEquals(
    formatTxSent(hash, { json: true, queued: true }),
    `{"hash":"${hash}","queued":true}`,
  );
  assertEquals(formatVerdict(hash, true, false), `tx ${hash} valid`);
  assertEquals(formatVerdict(hash, false, false), `tx ${hash} INVALID`);
  assertEquals(
    formatVerdict(hash, false, true),
    `{"hash":"${hash}","valid":false}`,
  );
  assertEquals(shortAccount(TX.from), TX.from.slice(0, 7));
  assertEquals(shortAccount("bob"), "bob");
  assertEquals(shortAccount("bob smith"), '"bob smith"');
  assertEquals(shortAccount(""), '""');
  assertEquals(
    formatTx(TX),
    `tx ${hash}: ${TX.from.slice(0, 7)} -> ${
      TX.to.slice(0, 7)
    } ${TX.value} nonce ${TX.nonce}`,
  );
  const st = searchTx(1, 2);
  assertEquals(
    formatSearchTx(st),
    `${formatTx(st)} blk 2 ${blockHash(CHAIN.blocks[1]).slice(0, 7)}`,
  );
  const json = encodeSearchTx(st);
  assert(json.startsWith(encodeSigTx(st).slice(0, -1) + ',"blockNumber":2,'));
  assertEquals(encodeSearchTx(decodeSearchTx(json)), json);
  assertThrows(
    () => decodeSearchTx(encodeSigTx(TX)),
    DecodeError,
    "tx.blockNumber: missing",
  );
});

Deno.test("block format", () => {
  const b = CHAIN.blocks[1];
  const lines = formatBlock(b).split("\n");
  assertEquals(lines.length, 1 + b.txs.length);
  assertEquals(
    lines[0],
    `blk 2: ${blockHash(b)} -> ${b.parent.slice(0, 7)} txs 3 mrk ${
      b.merkleRoot.slice(0, 7)
    } ${formatTime(b.time)}`,
  );
  assertEquals(lines[1], `  ${formatTx(b.txs[0])}`);
});

Deno.test("event formats", () => {
  const b = CHAIN.blocks[0];
  assertEquals(
    formatEvent(blockEvent(b), false),
    `blk validated 1 ${blockHash(b).slice(0, 7)} txs 3`,
  );
  assertEquals(
    formatEvent(txEvent(TX), false),
    `tx validated ${txHash(TX).slice(0, 7)}: ${TX.from.slice(0, 7)} -> ${
      TX.to.slice(0, 7)
    } ${TX.value}`,
  );
  assertEquals(formatEvent(txEvent(TX), true), encodeEvent(txEvent(TX)));
  assertThrows(
    () =>
      formatEvent(
        { type: 2, action: "validated", body: enc.encode("{}") },
        true,
      ),
    DecodeError,
    "event.body.txs: missing",
  );
});

// -------------------------------------------------------- error mapping

Deno.test("ConnectErrors become one line naming the node and the cause", () => {
  const addr = "127.0.0.1:1122";
  assertEquals(
    describeRpcError(addr, new ConnectError("account abc", Code.NotFound)),
    `node ${addr}: not found: account abc`,
  );
  assertEquals(
    describeRpcError(
      addr,
      new ConnectError("tx 1f2e: insufficient funds", Code.FailedPrecondition),
      { [Code.FailedPrecondition]: "tx rejected" },
    ),
    `node ${addr}: tx rejected: tx 1f2e: insufficient funds`,
  );
  assertEquals(
    describeRpcError(
      addr,
      new ConnectError("wrong password\nmore", Code.PermissionDenied),
    ),
    `node ${addr}: permission denied: wrong password`,
  );
  assertEquals(
    describeRpcError(addr, new ConnectError("", Code.Unimplemented)),
    `node ${addr}: not supported by this node`,
  );
  const refused = Object.assign(
    new Error(`connect ECONNREFUSED ${addr}`),
    { code: "ECONNREFUSED" },
  );
  assertEquals(
    describeRpcError(addr, ConnectError.from(refused, Code.Unavailable)),
    `cannot reach node ${addr}: connection refused`,
  );
  const odd = Object.assign(new Error(`odd failure ${addr}`), { code: "EODD" });
  assertEquals(
    describeRpcError(addr, new ConnectError("x", Code.Unknown, {}, [], odd)),
    `cannot reach node ${addr}: odd failure`,
  );
  assertEquals(
    describeRpcError(addr, new DecodeError("tx.sig", "missing")),
    `node ${addr}: bad answer: tx.sig: missing`,
  );
  const mapped = nodeError(addr, new ConnectError("gone", Code.NotFound));
  assert(mapped instanceof NodeError);
  assertEquals(mapped.code, Code.NotFound);
  assertEquals(mapped.message, `node ${addr}: not found: gone`);
  // A command's own errors and programming errors pass unchanged.
  const usage = new UsageError("missing --node");
  assertEquals(nodeError(addr, usage), usage);
  const bug = new TypeError("x is undefined");
  assertEquals(nodeError(addr, bug), bug);
});

// ------------------------------------------------------ with a fake node

const OWNER = CHAIN.owner.address;
const PROOF = merkleProve(CHAIN.blocks[0].txs.map(txHash), 1);

function fakeNode(events: { ended: boolean }): (r: ConnectRouter) => void {
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
        if (new TextDecoder().decode(req.Tx) === encodeSigTx(ahead)) {
          ctx.responseHeader.set(TX_STATUS_HEADER, "queued");
          return { Hash: txHash(ahead) };
        }
        if (new TextDecoder().decode(req.Tx) !== encodeSigTx(TX)) {
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
            if (req.To !== "" && t.to.startsWith(req.To)) {
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
        const proof = parseProofFlag(new TextDecoder().decode(req.MerkleProof));
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

async function withFake(
  fn: (addr: string) => Promise<void>,
  events = { ended: false },
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

Deno.test("account and tx commands against a fake node", async () => {
  await withFake(async (node) => {
    assertEquals(
      await run("account create", ["--node", node, "--ownerpass", "secret"]),
      [`acc ${H64}`],
    );
    await assertRejects(
      () => run("account create", ["--node", node, "--ownerpass", "abc"]),
      NodeError,
      `node ${node}: invalid request: password too short`,
    );
    assertEquals(
      await run("account balance", ["--node", node, "--account", OWNER]),
      [`acc ${OWNER}: 1000000`],
    );
    assertEquals(
      await run("account balance", [
        "--node",
        node,
        "--account",
        OWNER,
        "--json",
      ]),
      [`{"address":"${OWNER}","balance":1000000}`],
    );
    await assertRejects(
      () => run("account balance", ["--node", node, "--account", H64]),
      NodeError,
      `node ${node}: unknown account: account ${H64} has no balance`,
    );

    const sign = ["--node", node, "--from", OWNER, "--to", "b", "--value"];
    assertEquals(
      await run("tx sign", [...sign, "1", "--ownerpass", "secret"]),
      [encodeSigTx(TX)],
    );
    await assertRejects(
      () => run("tx sign", [...sign, "1", "--ownerpass", "wrong"]),
      NodeError,
      `node ${node}: permission denied: wrong password`,
    );

    const hash = txHash(TX);
    // Sent in canonical form whatever the spacing of --sigtx.
    const spaced = encodeSigTx(TX).replace(/,/g, ", ");
    assertEquals(
      await run("tx send", ["--node", node, "--sigtx", spaced]),
      [`tx ${hash}`],
    );
    assertEquals(
      await run("tx send", ["--node", node, "--sigtx", spaced, "--json"]),
      [`{"hash":"${hash}"}`],
    );
    // A bcn node says, in a response header, that it queued the transaction.
    const ahead = CHAIN.blocks[1].txs[0];
    const aheadArgs = ["--node", node, "--sigtx", encodeSigTx(ahead)];
    assertEquals(await run("tx send", aheadArgs), [
      `tx ${txHash(ahead)} queued`,
    ]);
    assertEquals(await run("tx send", [...aheadArgs, "--json"]), [
      `{"hash":"${txHash(ahead)}","queued":true}`,
    ]);
    const other = encodeSigTx(CHAIN.blocks[0].txs[1]);
    await assertRejects(
      () => run("tx send", ["--node", node, "--sigtx", other]),
      NodeError,
      `node ${node}: tx rejected: tx ${hash}: insufficient funds: balance 0, value 1`,
    );
  });
});

Deno.test("search, prove and verify against a fake node", async () => {
  await withFake(async (node) => {
    const to = CHAIN.others[0].address;
    const found = await run("tx search", ["--node", node, "--to", to]);
    const expected = CHAIN.blocks.flatMap((b, bi) =>
      b.txs.flatMap((t, ti) => t.to === to ? [searchTx(bi, ti)] : [])
    );
    assert(expected.length > 0);
    assertEquals(found, expected.map(formatSearchTx));
    assertEquals(
      await run("tx search", ["--node", node, "--to", to, "--json"]),
      expected.map(encodeSearchTx),
    );
    await assertRejects(
      () => run("tx search", ["--node", node, "--to", "nobody"]),
      Error,
      "no transaction matches --to nobody",
    );

    const proven = txHash(CHAIN.blocks[0].txs[1]);
    const proof = await run("tx prove", ["--node", node, "--hash", proven]);
    assertEquals(proof, [encodeMerkleProof(PROOF)]);
    await assertRejects(
      () => run("tx prove", ["--node", node, "--hash", H64]),
      NodeError,
      `node ${node}: unknown tx: tx ${H64} not found`,
    );
    const root = CHAIN.blocks[0].merkleRoot;
    const verify = ["--node", node, "--hash", proven, "--mrkproof", proof[0]];
    assertEquals(
      await run("tx verify", [...verify, "--mrkroot", root]),
      [`tx ${proven} valid`],
    );
    assertEquals(
      await run("tx verify", [...verify, "--mrkroot", H64, "--json"]),
      [`{"hash":"${proven}","valid":false}`],
    );

    const b = CHAIN.blocks[1];
    assertEquals(
      await run("block search", ["--node", node, "--number", "2"]),
      formatBlock(b).split("\n"),
    );
    assertEquals(
      await run("block search", ["--node", node, "--number", "2", "--json"]),
      [encodeSigBlock(b)],
    );
    await assertRejects(
      () => run("block search", ["--node", node, "--number", "9"]),
      Error,
      "no block matches --number 9",
    );
  });
});

Deno.test("node subscribe prints events until aborted or the node ends", async () => {
  await withFake(async (node) => {
    const stop = new AbortController();
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => {
      lines.push(line);
      if (lines.length === CHAIN.blocks.length) stop.abort();
    };
    try {
      await nodeSubscribe(["--node", node, "--events", "blk", "--json"], {
        signal: stop.signal,
      });
    } finally {
      console.log = log;
    }
    assertEquals(lines, CHAIN.blocks.map((b) => encodeEvent(blockEvent(b))));
    assertEquals(decodeEvent(lines[0]).type, 2);
  });
  await withFake(async (node) => {
    const err = await assertRejects(
      () => run("node subscribe", ["--node", node, "--events", "tx"]),
      Error,
      `node ${node} ended the event stream`,
    );
    assert(!(err instanceof NodeError));
  }, { ended: true });
});

Deno.test("node subscribe: a node that goes away is one line", async () => {
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    closeGraceMs: 0,
    routes: fakeNode({ ended: false }),
  });
  let closing: Promise<void> | undefined;
  const log = console.log;
  console.log = () => {
    closing ??= server.close();
  };
  try {
    await assertRejects(
      () => nodeSubscribe(["--node", server.addr]),
      NodeError,
      `lost node ${server.addr}: `,
    );
  } finally {
    console.log = log;
    await (closing ?? server.close());
  }
});

Deno.test("an unreachable node is one line naming the cause", async () => {
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    routes: () => {},
  });
  const addr = server.addr;
  await server.close();
  await assertRejects(
    () => run("account balance", ["--node", addr, "--account", OWNER]),
    NodeError,
    `cannot reach node ${addr}: connection refused`,
  );
  await assertRejects(
    () => run("node subscribe", ["--node", addr]),
    NodeError,
    `cannot reach node ${addr}: connection refused`,
  );
});

// ------------------------------------------------------------ the CLI

async function bcn(
  args: string[],
  stdin = "",
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(DENO, {
    args: [
      "run",
      ...BCN_PERMISSIONS,
      "--config",
      CONFIG_PATH,
      MAIN_PATH,
      ...args,
    ],
    env: { BCN_OWNERPASS: "", NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(enc.encode(stdin));
  await writer.close();
  const out = await child.output();
  const text = new TextDecoder();
  return {
    code: out.code,
    stdout: text.decode(out.stdout),
    stderr: text.decode(out.stderr),
  };
}

Deno.test("bcn prints results on stdout and errors as one line, exit 1", async () => {
  await withFake(async (node) => {
    const ok = await bcn([
      "account",
      "balance",
      "--node",
      node,
      "--account",
      OWNER,
    ]);
    assertEquals(ok, {
      code: 0,
      stdout: `acc ${OWNER}: 1000000\n`,
      stderr: "",
    });
    const bad = await bcn(["tx", "send", "--node", node, "--sigtx", "{}"]);
    assertEquals(bad, {
      code: 1,
      stdout: "",
      stderr: "bcn: --sigtx: from: missing\n",
    });
    const piped = await bcn(
      ["tx", "send", "--node", node, "--sigtx", "-", "--json"],
      encodeSigTx(TX) + "\n",
    );
    assertEquals(piped, {
      code: 0,
      stdout: `{"hash":"${txHash(TX)}"}\n`,
      stderr: "",
    });
    const unknown = await bcn([
      "account",
      "balance",
      "--node",
      node,
      "--account",
      H64,
    ]);
    assertEquals(unknown, {
      code: 1,
      stdout: "",
      stderr:
        `bcn: node ${node}: unknown account: account ${H64} has no balance\n`,
    });
  });
  const help = await bcn(["--help"]);
  for (const name of Object.keys(COMMANDS)) {
    assert(help.stdout.includes(`  ${name} `), name);
  }
  const group = await bcn(["tx", "--help"]);
  assertEquals(group.code, 0);
  assert(group.stdout.startsWith("Usage: bcn tx COMMAND [flags]"));
  assert(group.stdout.includes("  tx verify "));
  assert(!group.stdout.includes("block search"));
});

Deno.test("node start --max-conns-per-ip takes 1 to 1024", () => {
  const base = { node: "127.0.0.1:1122", bootstrap: true };
  assertEquals(nodeConfigFromFlags(base).maxConnsPerIp, undefined);
  assertEquals(
    nodeConfigFromFlags({ ...base, "max-conns-per-ip": "200" }).maxConnsPerIp,
    200,
  );
  assertEquals(
    nodeConfigFromFlags({ ...base, "max-conns-per-ip": "1024" }).maxConnsPerIp,
    1024,
  );
  for (const bad of ["0", "1025", "-1", "1e3", "08", "many", ""]) {
    assertThrows(
      () => nodeConfigFromFlags({ ...base, "max-conns-per-ip": bad }),
      UsageError,
      `--max-conns-per-ip: expected an integer from 1 to 1024, got ${
        JSON.stringify(bad)
      }`,
    );
  }
});
