/**
 * End-to-end tests of `bcn dev` and of the operator endpoints of real nodes:
 * the printed example transfer confirmed on every node, `bcn node status`
 * (text and JSON), `GET /status`, `/healthz`, `/metrics`, bad methods and
 * paths, a gRPC client on the same port, Ctrl-C, a restart from `--dir`, and
 * a node that dies taking the others down.
 *
 * Every wait is a poll with a deadline.
 */
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import {
  createGrpcTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { decodeSigGenesis, genesisHash } from "../../src/chain/genesis.ts";
import {
  decodeStatus,
  type NodeStatus,
} from "../../src/node/observe/status.ts";
import { Block } from "../../src/rpc/gen/block_pb.ts";
import { assert, assertEquals } from "../assert.ts";
import { parseExposition } from "../node/exposition.ts";
import {
  BCN_PERMISSIONS,
  type BcnProcess,
  CONFIG_PATH,
  DENO,
  exists,
  freePorts,
  MAIN_PATH,
  runBcn,
  startBcn,
  withTempDir,
} from "./helpers.ts";

const DEADLINE_MS = 60_000;
const POLL_MS = 250;
const READY = " running, a block ";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value; fails naming `what`. */
async function poll<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = DEADLINE_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let i = 0; i < 10_000; i++) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) break;
    await sleep(POLL_MS);
  }
  throw new Error(`timed out: ${what}${last ? `: ${last}` : ""}`);
}

/** What `bcn dev` printed. */
interface DevSummary {
  dir: string;
  genesis: string;
  nodes: string[];
  accounts: { address: string; balance: bigint; node: string }[];
  example: string;
}

function parseSummary(stdout: string): DevSummary {
  const dir = /^data in (\S+) /m.exec(stdout)?.[1];
  const genesis = /^bcn dev: chain dev, genesis ([0-9a-f]{64})$/m.exec(
    stdout,
  )?.[1];
  const nodes = [...stdout.matchAll(/^(127\.0\.0\.1:\d+) {2}/gm)].map((m) =>
    m[1]
  );
  const accounts = [
    ...stdout.matchAll(/^([0-9a-f]{64}) {2,}(\d+) {2}password {2}(\S+)$/gm),
  ].map((m) => ({ address: m[1], balance: BigInt(m[2]), node: m[3] }));
  const example = /^ {2}(bcn tx sign .*)$/m.exec(stdout)?.[1];
  assert(dir && genesis && example, `a summary:\n${stdout}`);
  return { dir, genesis, nodes, accounts, example };
}

async function status(addr: string): Promise<NodeStatus> {
  const res = await runBcn(["node", "status", "--node", addr, "--json"]);
  assertEquals(res.code, 0, res.stderr);
  return decodeStatus(res.stdout);
}

async function balance(addr: string, account: string): Promise<bigint> {
  const res = await runBcn([
    "account",
    "balance",
    "--node",
    addr,
    "--account",
    account,
  ]);
  assertEquals(res.code, 0, res.stderr);
  return BigInt(/: (\d+)\n$/.exec(res.stdout)![1]);
}

async function get(
  addr: string,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: string; type: string | null }> {
  const res = await fetch(`http://${addr}${path}`, {
    ...init,
    signal: AbortSignal.timeout(10_000),
  });
  return {
    status: res.status,
    body: await res.text(),
    type: res.headers.get("content-type"),
  };
}

/** Runs the printed `sign | send` example with bcn from source. */
async function runExample(example: string): Promise<string> {
  const bcn = [
    DENO,
    "run",
    ...BCN_PERMISSIONS,
    "--config",
    CONFIG_PATH,
    MAIN_PATH,
  ].map((a) => `'${a}'`).join(" ");
  const out = await new Deno.Command("bash", {
    args: ["-c", example.replaceAll("bcn ", `${bcn} `)],
    env: { BCN_AUTHPASS: "", BCN_OWNERPASS: "" },
    stdin: "null",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, stderr);
  return new TextDecoder().decode(out.stdout);
}

async function withDev(
  args: string[],
  fn: (dev: BcnProcess, summary: DevSummary) => Promise<void>,
): Promise<void> {
  const dev = await startBcn(["dev", ...args]);
  try {
    const stdout = await dev.waitFor(READY, DEADLINE_MS);
    await fn(dev, parseSummary(stdout));
  } finally {
    await dev.stop("SIGKILL");
  }
}

Deno.test("bcn dev: the printed transfer is confirmed on every node; status, health, metrics; Ctrl-C stops it", async () => {
  const port = freePorts(3);
  await withDev(
    ["--port", String(port), "--period", "300ms", "--accounts", "3"],
    async (dev, s) => {
      assertEquals(s.nodes, [0, 1, 2].map((i) => `127.0.0.1:${port + i}`));
      assertEquals(s.accounts.length, 3);
      for (const a of s.accounts) {
        assertEquals(a.balance, 1_000_000n);
        assert(s.nodes.includes(a.node), a.node);
      }
      // The copy-paste example: sign on the key's node, send to another.
      const sent = await runExample(s.example);
      assert(/^tx [0-9a-f]{64}\n$/.test(sent), sent);
      const to = /--to ([0-9a-f]{64})/.exec(s.example)![1];
      for (const node of s.nodes) {
        await poll(
          `25 on ${node}`,
          async () => await balance(node, to) === 1_000_025n ? true : undefined,
        );
      }

      // Status, as JSON, on every node: one chain, peers found, in sync.
      const all = await Promise.all(
        s.nodes.map((node) =>
          poll(`${node} healthy with 2 peers`, async () => {
            const st = await status(node);
            return st.health.ok && st.peers.length === 2 ? st : undefined;
          })
        ),
      );
      all.forEach((st, i) => {
        assertEquals(st.chain, "dev");
        assertEquals(st.genesis, s.genesis);
        assertEquals(st.node, s.nodes[i]);
        assertEquals(st.isAuthority, i === 0);
        assertEquals(st.authority, all[0].authority);
        assert(st.lastBlock.number >= 1n, `block on ${st.node}`);
        assertEquals(st.catchingUp, false);
        assertEquals(st.behind, 0n);
        assertEquals(st.version, "0.1.0");
        assertEquals(
          [...st.peers].sort(),
          s.nodes.filter((n) => n !== st.node),
        );
      });

      // The text form.
      const text = await runBcn(["node", "status", "--node", s.nodes[1]]);
      assertEquals(text.code, 0, text.stderr);
      const lines = text.stdout.trimEnd().split("\n");
      assertEquals(lines.length, 8, text.stdout);
      assert(lines[0].startsWith(`node      ${s.nodes[1]} (bcn 0.1.0, up `));
      assertEquals(lines[1], `chain     dev, genesis ${s.genesis}`);
      assert(/^block {5}\d+ [0-9a-f]{64} \d{4}-/.test(lines[2]), lines[2]);
      assert(/^peers {5}2: /.test(lines[4]), lines[4]);
      assertEquals(lines[5], "sync      in sync");
      assertEquals(lines[6], `authority ${all[0].authority}`);
      assertEquals(lines[7], "health    ok");

      // /healthz and /status straight from the port.
      const health = await get(s.nodes[2], "/healthz");
      assertEquals([health.status, health.body], [200, "ok\n"]);
      const raw = await get(s.nodes[0], "/status?anything");
      assertEquals(raw.status, 200);
      assertEquals(raw.type, "application/json");
      assertEquals(decodeStatus(raw.body).isAuthority, true);

      // Metrics of the node the transfer was sent to.
      const sentTo = /tx send --node (\S+)/.exec(s.example)![1];
      const m = await get(sentTo, "/metrics");
      assertEquals(m.status, 200);
      assertEquals(m.type, "text/plain; version=0.0.4; charset=utf-8");
      const samples = parseExposition(m.body);
      assert(samples.get("bcn_block_height")! >= 1, m.body);
      assert(samples.get("bcn_blocks_confirmed_total")! >= 1, m.body);
      assert(samples.get("bcn_txs_confirmed_total")! >= 1, m.body);
      assert(samples.get("bcn_block_apply_seconds_count")! >= 1, m.body);
      assertEquals(samples.get("bcn_peers"), 2);
      assertEquals(samples.get("bcn_sync_behind_blocks"), 0);
      assertEquals(
        samples.get(
          'bcn_rpc_requests_total{service="Tx",method="TxSend",code="ok"}',
        ),
        1,
      );
      assert(
        samples.get(
          'bcn_rpc_duration_seconds_count{service="Tx",method="TxSend"}',
        )! >= 1,
      );
      assert(samples.get('bcn_process_memory_bytes{kind="rss"}')! > 0);
      assert(samples.has('bcn_relay_queue_items{relay="block"}'));

      // Wrong methods and unknown paths: one line each.
      const post = await get(s.nodes[0], "/metrics", {
        method: "POST",
        body: "x".repeat(100_000),
      });
      assertEquals(
        [post.status, post.body],
        [405, "method POST not allowed on /metrics: use GET\n"],
      );
      const missing = await get(s.nodes[0], "/nothing/here");
      assertEquals(
        [missing.status, missing.body],
        [404, "not found: /nothing/here\n"],
      );

      // A gRPC (HTTP/2) client, as a reference node's, on the same port.
      const session = new Http2SessionManager(`http://${s.nodes[1]}`);
      try {
        const client = createClient(
          Block,
          createGrpcTransport({
            baseUrl: `http://${s.nodes[1]}`,
            sessionManager: session,
          }),
        );
        const res = await client.genesisSync({}, {
          signal: AbortSignal.timeout(10_000),
        });
        assertEquals(genesisHash(decodeSigGenesis(res.Genesis)), s.genesis);
      } finally {
        session.abort();
      }

      // Ctrl-C: every node stops, exit code 0, the data is gone.
      const result = await dev.stop("SIGINT");
      assertEquals(result.code, 0, result.stderr);
      assertEquals(await exists(s.dir), false);
    },
  );
});

Deno.test("bcn dev --dir restarts the same chain; a node that dies stops the others", async () => {
  await withTempDir(async (tmp) => {
    const dir = join(tmp, "chain");
    const port = freePorts(2);
    const args = ["--dir", dir, "--nodes", "2", "--port", String(port)];
    let first: DevSummary | undefined;
    await withDev([...args, "--period", "300ms"], async (dev, s) => {
      first = s;
      assertEquals(s.dir, dir);
      const result = await dev.stop("SIGTERM");
      assertEquals(result.code, 0, result.stderr);
    });
    assert(await exists(join(dir, "node1", "blockstore", "genesis.json")));

    await withDev([...args, "--period", "300ms"], async (dev, s) => {
      assertEquals(s.genesis, first!.genesis);
      assertEquals(s.accounts, first!.accounts);
      // Node 2's store cannot take a block any more: the next one kills it.
      const store = join(dir, "node1", "blockstore", "block.store");
      await Deno.remove(store).catch(() => {});
      await Deno.mkdir(store);
      await runExample(s.example);
      const result = await dev.waitExit(DEADLINE_MS);
      assertEquals(result.code, 1, result.stderr);
      const last = result.stderr.trimEnd().split("\n").pop()!;
      assert(
        last.startsWith(
          `bcn: node 127.0.0.1:${port + 1} stopped: cannot append block 1`,
        ),
        result.stderr,
      );
      assert(last.endsWith("; stopped the others"), last);
    });
  });
});

Deno.test("bcn dev: bad flags, a busy port and a foreign --dir are one line and exit code 1", async () => {
  const bad = await runBcn(["dev", "--nodes", "0"]);
  assertEquals(
    [bad.code, bad.stderr],
    [1, 'bcn: --nodes: expected an integer from 1 to 32, got "0"\n'],
  );
  const huge = await runBcn([
    "dev",
    "--accounts",
    "2",
    "--balance",
    "18446744073709551615",
  ]);
  assertEquals(huge.code, 1);
  assert(huge.stderr.includes("exceed a u64"), huge.stderr);

  const port = freePorts(2);
  const busy = Deno.listen({ hostname: "127.0.0.1", port: port + 1 });
  try {
    const res = await runBcn(["dev", "--nodes", "2", "--port", String(port)]);
    assertEquals(res.code, 1, res.stderr);
    assertEquals(
      res.stderr.trimEnd().split("\n").pop(),
      `bcn: cannot start the network: cannot listen on 127.0.0.1:${
        port + 1
      }: address already in use`,
    );
    assertEquals(res.stdout, "");
  } finally {
    busy.close();
  }

  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "notes.txt"), "mine");
    const res = await runBcn(["dev", "--dir", dir]);
    assertEquals(
      [res.code, res.stderr],
      [1, `bcn: --dir: ${dir} is not empty and holds no bcn dev chain\n`],
    );
    assertEquals(await Deno.readTextFile(join(dir, "notes.txt")), "mine");
  });

  const down = await runBcn(["node", "status", "--node", `127.0.0.1:${port}`]);
  assertEquals(
    [down.code, down.stderr],
    [1, `bcn: cannot reach node 127.0.0.1:${port}: connection refused\n`],
  );
});
