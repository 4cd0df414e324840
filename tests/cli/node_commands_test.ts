import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../assert.ts";
import { blockHash, encodeSigBlock } from "../../src/chain/block.ts";
import { blockEvent, txEvent } from "../../src/chain/event.ts";
import { DecodeError } from "../../src/chain/json.ts";
import { encodeSigTx, txHash } from "../../src/chain/tx.ts";
import { UsageError } from "../../src/cli/args.ts";
import { runCommand } from "../../src/cli/command.ts";
import {
  advertiseFlag,
  askStartPasswords,
  formatEvent,
  NODE_SUBSCRIBE,
  nodeConfigFromFlags,
  parseEventsFlag,
} from "../../src/cli/node_commands.ts";
import { NodeError } from "../../src/client/call_errors.ts";
import { startServer } from "../../src/rpc/server.ts";
import { freePort } from "../e2e/helpers.ts";
import { captureIo, CHAIN, fakeNode, run, TX, withFake } from "./harness.ts";
import { withTempDir } from "../support.ts";

const enc = new TextEncoder();

// ----------------------------------------------------------- node start

const BASE = { node: "127.0.0.1:1122", bootstrap: true };

Deno.test("node start --allow-keys-from: a list of addresses and ranges", () => {
  assertEquals(nodeConfigFromFlags(BASE).allowKeysFrom, undefined);
  assertEquals(
    nodeConfigFromFlags({
      ...BASE,
      "allow-keys-from": "10.0.0.0/8, 192.168.1.5,fd00::/8",
    }).allowKeysFrom,
    ["10.0.0.0/8", "192.168.1.5", "fd00::/8"],
  );
});

Deno.test("node start --allow-keys-from: a bad entry is a usage error naming it", () => {
  for (
    const [value, message] of [
      ["10.0.0.0/33", '--allow-keys-from: invalid address "10.0.0.0/33"'],
      [
        "10.0.0.1,example.com",
        '--allow-keys-from: invalid address "example.com"',
      ],
      ["", "--allow-keys-from: expected addresses or CIDR ranges"],
      [" ", "--allow-keys-from: expected addresses or CIDR ranges"],
    ]
  ) {
    assertThrows(
      () => nodeConfigFromFlags({ ...BASE, "allow-keys-from": value }),
      UsageError,
      message,
    );
  }
});

Deno.test("node start --max-conns-per-ip takes 1 to 512 (the total bound)", () => {
  assertEquals(nodeConfigFromFlags(BASE).maxConnsPerIp, undefined);
  assertEquals(
    nodeConfigFromFlags({ ...BASE, "max-conns-per-ip": "200" }).maxConnsPerIp,
    200,
  );
  assertEquals(
    nodeConfigFromFlags({ ...BASE, "max-conns-per-ip": "512" }).maxConnsPerIp,
    512,
  );
  for (const bad of ["0", "513", "-1", "1e3", "08", "many", ""]) {
    assertThrows(
      () => nodeConfigFromFlags({ ...BASE, "max-conns-per-ip": bad }),
      UsageError,
      `--max-conns-per-ip: expected an integer from 1 to 512, got ${
        JSON.stringify(bad)
      }`,
    );
  }
});

Deno.test("node start --explorer is on by default; =false turns it off", () => {
  assertEquals(nodeConfigFromFlags(BASE).explorer, true);
  assertEquals(
    nodeConfigFromFlags({ ...BASE, explorer: "true" }).explorer,
    true,
  );
  assertEquals(
    nodeConfigFromFlags({ ...BASE, explorer: "false" }).explorer,
    false,
  );
  assertThrows(
    () => nodeConfigFromFlags({ ...BASE, explorer: "no" }),
    UsageError,
    '--explorer: expected true or false, got "no"',
  );
});

// ------------------------------------------------------- node subscribe

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
  // JSON with a named type and the decoded transaction, not base64.
  assertEquals(
    formatEvent(txEvent(TX), true),
    `{"type":"tx","action":"validated","tx":${encodeSigTx(TX)}}`,
  );
  assertEquals(
    formatEvent(blockEvent(b), true),
    `{"type":"block","action":"validated","block":${encodeSigBlock(b)}}`,
  );
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

Deno.test("node subscribe prints events until aborted or the node ends", async () => {
  await withFake(async (node) => {
    const stop = new AbortController();
    const io = captureIo({
      signal: stop.signal,
      onOut: () => {
        if (io.lines.length === CHAIN.blocks.length) stop.abort();
      },
    });
    await runCommand(
      NODE_SUBSCRIBE,
      ["--node", node, "--events", "blk", "--json"],
      io,
    );
    assertEquals(
      io.lines,
      CHAIN.blocks.map((b) =>
        `{"type":"block","action":"validated","block":${encodeSigBlock(b)}}`
      ),
    );
    assertEquals(JSON.parse(io.lines[0]).type, "block");
  });
  await withFake(async (node) => {
    const err = await assertRejects(
      () => run("node subscribe", ["--node", node, "--events", "tx"]),
      Error,
      `node ${node} ended the event stream`,
    );
    assert(err instanceof NodeError);
  }, { ended: true });
});

Deno.test("node subscribe: an abort before the first event is a clean end", async () => {
  await withFake(async (node) => {
    const stop = new AbortController();
    stop.abort();
    const io = captureIo({ signal: stop.signal });
    await runCommand(NODE_SUBSCRIBE, ["--node", node], io);
    assertEquals(io.lines, []);
  });
});

Deno.test("node subscribe: a node that goes away is one line", async () => {
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    closeGraceMs: 0,
    routes: fakeNode({ ended: false }),
  });
  let closing: Promise<void> | undefined;
  const io = captureIo({
    onOut: () => {
      closing ??= server.close();
    },
  });
  try {
    await assertRejects(
      () => runCommand(NODE_SUBSCRIBE, ["--node", server.addr], io),
      NodeError,
      `lost node ${server.addr}: `,
    );
    assert(io.lines.length > 0, "the events before the node went away");
  } finally {
    await (closing ?? server.close());
  }
});

Deno.test("node subscribe and node status: an unreachable node is one line", async () => {
  const addr = `127.0.0.1:${freePort()}`;
  await assertRejects(
    () => run("node subscribe", ["--node", addr]),
    NodeError,
    `cannot reach node ${addr}: connection refused`,
  );
  await assertRejects(
    () => run("node status", ["--node", addr]),
    NodeError,
    `cannot reach node ${addr}: connection refused`,
  );
});

// ---------------------------------------------------------- node status

Deno.test("node status: an answer that is not a status is one line", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) =>
      new URL(req.url).pathname === "/status"
        ? new Response("not ready\nat all", { status: 503 })
        : new Response("", { status: 404 }),
  );
  const addr = `127.0.0.1:${server.addr.port}`;
  try {
    await assertRejects(
      () => run("node status", ["--node", addr]),
      NodeError,
      `node ${addr}: /status answered 503: not ready`,
    );
  } finally {
    await server.shutdown();
  }
});

// ------------------------------------------------ node start: advertise

Deno.test("node start --advertise: what peers are told, checked", () => {
  assertEquals(nodeConfigFromFlags(BASE).advertise, undefined);
  assertEquals(
    nodeConfigFromFlags({
      ...BASE,
      node: "0.0.0.0:1122",
      advertise: "10.0.0.5:1122",
    }).advertise,
    "10.0.0.5:1122",
  );
  assertEquals(advertiseFlag("[::]:1122", "[fd00::5]:1122"), "[fd00::5]:1122");
  assertEquals(
    advertiseFlag("127.0.0.1:1122", "node1.example:80"),
    "node1.example:80",
  );
  for (const node of ["0.0.0.0:1122", "[::]:1122"]) {
    assertThrows(
      () => nodeConfigFromFlags({ ...BASE, node }),
      UsageError,
      `--node ${node} listens on every address, which is no address for peers to reach: give --advertise HOST:PORT`,
    );
  }
  for (
    const [value, message] of [
      ["0.0.0.0:1122", '--advertise: "0.0.0.0:1122" is an unspecified address'],
      ["[::]:1", '--advertise: "[::]:1" is an unspecified address'],
      ["10.0.0.5", "--advertise: invalid address"],
      ["10.0.0.5:0", "--advertise: port 0 is no port for peers to reach"],
      ["", "--advertise: invalid address"],
    ]
  ) {
    assertThrows(
      () => nodeConfigFromFlags({ ...BASE, advertise: value }),
      UsageError,
      message,
    );
  }
});

// -------------------------------------- node start: a bootstrap's inputs

Deno.test("a bootstrap's first start names each missing input and why", async () => {
  await withTempDir(async (dir) => {
    const flags = {
      ...BASE,
      blockstore: `${dir}/blocks`,
      keystore: `${dir}/keys`,
    };
    const ask = (f: Record<string, string | boolean>) =>
      askStartPasswords(nodeConfigFromFlags(f), f);
    const first =
      `the first start of a bootstrap node (no genesis in ${dir}/blocks yet) creates the chain`;
    await assertRejects(
      () => ask({ ...flags, authpass: "password", ownerpass: "password" }),
      UsageError,
      `missing --balance: ${first}, giving its initial owner this balance`,
    );
    await assertRejects(
      () => ask({ ...flags, balance: "1000", ownerpass: "password" }),
      UsageError,
      `missing --authpass: ${first}, with an authority key encrypted with this password (or set BCN_AUTHPASS, or give --authpass-file)`,
    );
    await assertRejects(
      () => ask({ ...flags, balance: "1000", authpass: "password" }),
      UsageError,
      `missing --ownerpass: ${first}, with an initial owner key encrypted with this password`,
    );
    await assertRejects(
      () => ask({ ...flags, authpass: "abc", ownerpass: "password" }),
      UsageError,
      "authority password (--authpass) must be at least 5 bytes",
    );
    // A zero balance is the node's to refuse.
    const cfg = await ask({
      ...flags,
      balance: "1000",
      authpass: "password",
      ownerpass: "password",
    });
    assertEquals([cfg.authPass, cfg.ownerPass], ["password", "password"]);
    // Asked on a terminal, in order, when no flag gives them.
    const asked: string[] = [];
    const f = { ...flags, balance: "5" };
    const typed = await askStartPasswords(nodeConfigFromFlags(f), f, {
      prompt: (label) => {
        asked.push(label);
        return Promise.resolve(`typed ${label}`);
      },
    });
    assertEquals(asked, ["authority password", "initial owner password"]);
    assertEquals(typed.ownerPass, "typed initial owner password");
    // Once the chain exists, only the authority password is needed.
    await Deno.mkdir(`${dir}/blocks`);
    await Deno.writeTextFile(`${dir}/blocks/genesis.json`, "{}");
    assertEquals(
      (await ask({ ...flags, authpass: "password" })).authPass,
      "password",
    );
    await assertRejects(
      () => ask(flags),
      UsageError,
      "missing --authpass: a bootstrap node decrypts its authority key with it",
    );
    // A regular node needs none of them.
    const regular = { node: "127.0.0.1:1123", seed: "127.0.0.1:1122" };
    assertEquals((await ask(regular)).authPass, undefined);
  });
});
