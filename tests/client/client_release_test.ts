/**
 * What a {@link Client} lets go of: a stream the consumer leaves early
 * ends at the node at once, not when the client closes; and what it checks
 * on this machine before it asks a node anything.
 */
import { assert, assertEquals, assertRejects } from "../assert.ts";
import type { ConnectRouter } from "@connectrpc/connect";
import { blockEvent, encodeEvent } from "../../src/chain/event.ts";
import { Client } from "../../src/client/client.ts";
import { InputError, NodeError } from "../../src/client/call_errors.ts";
import { Node } from "../../src/rpc/gen/node_pb.ts";
import { Tx } from "../../src/rpc/gen/tx_pb.ts";
import { startServer } from "../../src/rpc/server.ts";
import { CHAIN, H64, NODE, OWNER } from "../cli/harness.ts";
import { sanitizedTest, waitFor } from "../support.ts";

const enc = new TextEncoder();

/** Runs `fn` against a node whose streams record when they end. */
async function withStreams(
  fn: (addr: string, ended: { subscribe: number; search: number }) => Promise<
    void
  >,
): Promise<void> {
  const ended = { subscribe: 0, search: 0 };
  const routes = (router: ConnectRouter) => {
    router.service(Node, {
      async *streamSubscribe(_req, ctx) {
        try {
          yield { Event: enc.encode(encodeEvent(blockEvent(CHAIN.blocks[0]))) };
          await new Promise((resolve) =>
            ctx.signal.addEventListener("abort", resolve)
          );
        } finally {
          ended.subscribe++;
        }
      },
    });
    router.service(Tx, {
      async *txSearch(_req, ctx) {
        try {
          // An endless search: the consumer decides when it has enough.
          for (let i = 0; i < 100_000 && !ctx.signal.aborted; i++) {
            yield {
              Tx: enc.encode(
                `{"from":"${OWNER}","to":"${H64}","value":1,"nonce":${
                  i + 1
                },"time":"2024-01-01T00:00:00Z","sig":"","blockNumber":1,"blockHash":"${H64}","merkleRoot":"${H64}"}`,
              ),
            };
          }
        } finally {
          ended.search++;
        }
      },
    });
  };
  const server = await startServer({ hostname: "127.0.0.1", port: 0, routes });
  try {
    await fn(server.addr, ended);
  } finally {
    await server.close();
  }
}

Deno.test("a subscription left early ends at the node, the client open", async () => {
  await withStreams(async (addr, ended) => {
    await using client = new Client(addr);
    for await (const e of client.subscribe({ events: ["block"] })) {
      assertEquals(e.type, "block");
      break;
    }
    // Without a signal the caller has no other way to end it.
    assert(
      await waitFor(() => ended.subscribe === 1, 5000),
      "the node's event stream is still open after the consumer left",
    );
  });
});

Deno.test("a search left early ends at the node, the client open", async () => {
  await withStreams(async (addr, ended) => {
    await using client = new Client(addr);
    let n = 0;
    for await (const _ of client.searchTxs({ from: OWNER })) {
      if (++n === 3) break;
    }
    assert(await waitFor(() => ended.search === 1, 5000));
  });
});

Deno.test("passwords and key files are checked before any call", async () => {
  // NODE has nothing listening: a call would fail with "cannot reach".
  await using client = new Client(NODE);
  await assertRejects(
    () => client.createAccount("abc"),
    InputError,
    "password must be at least 5 bytes",
  );
  await assertRejects(
    () => client.signOnNode({ from: OWNER, to: H64, value: 1n }, "abc"),
    InputError,
    "password must be at least 5 bytes",
  );
  // With no nonce, the key is opened before the node is asked for one.
  const dir = await Deno.makeTempDir({ dir: ".tmp" });
  try {
    const err = await assertRejects(() =>
      client.sign({ from: OWNER, to: H64, value: 1n }, {
        keyStore: dir,
        password: "a good password",
      })
    );
    assert(!String(err).includes("cannot reach"), String(err));
    assert(!String(err).includes("a good password"), String(err));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a transaction or proof that cannot be sent is refused before any call", async () => {
  await using client = new Client(NODE);
  await assertRejects(
    () => client.send({ ...CHAIN.blocks[0].txs[0], to: "\ud800" }),
    InputError,
    "tx: cannot encode a string holding a lone surrogate",
  );
  await assertRejects(
    () => client.verify(H64, [{ hash: "zz", pos: 1 }], H64),
    InputError,
    'proof[0].hash: invalid hash "zz"',
  );
  await assertRejects(
    () => client.verify(H64, [{ hash: H64, pos: 7 as 1 }], H64),
    InputError,
    'proof[0].pos: expected 1 (left) or 2 (right), got "7"',
  );
  await assertRejects(
    () => client.balance(undefined as unknown as string),
    InputError,
    "account: invalid address",
  );
});

sanitizedTest(
  "close() ends the streams a consumer holds but no longer reads",
  async () => {
    await withStreams(async (addr, ended) => {
      const client = new Client(addr);
      const search = client.searchTxs({ from: OWNER })[Symbol.asyncIterator]();
      assertEquals((await search.next()).done, false);
      const events = client.subscribe()[Symbol.asyncIterator]();
      assertEquals((await events.next()).done, false);
      client.close();
      // No timer of theirs is left (the sanitizer checks) and the node
      // sees both calls end.
      assert(
        await waitFor(() => ended.search === 1 && ended.subscribe === 1, 5000),
        JSON.stringify(ended),
      );
    });
  },
);

Deno.test("status follows no redirect a node answers with", async () => {
  let elsewhere = 0;
  const other = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => {
      elsewhere++;
      return new Response("{}");
    },
  );
  const node = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () =>
      new Response(null, {
        status: 302,
        headers: { location: `http://127.0.0.1:${other.addr.port}/secret` },
      }),
  );
  try {
    await using client = new Client(`127.0.0.1:${node.addr.port}`);
    await assertRejects(
      () => client.status(),
      NodeError,
      "/status answered 302",
    );
    assertEquals(elsewhere, 0);
  } finally {
    await node.shutdown();
    await other.shutdown();
  }
});
