/**
 * Measures how many connections one remote address holds on a node of a
 * loopback network under load: what `DEFAULT_MAX_CONNECTIONS_PER_ADDRESS`
 * (src/rpc/conn_limits.ts) must leave room for.
 *
 *   deno run -A bench/loopback_conns.ts [nodes=5] [seconds=20]
 *
 * Starts a bootstrap node and `nodes - 1` regular nodes as real `bcn`
 * processes on free 127.0.0.1 ports (`--period 300ms`), then for `seconds`
 * sends transfers (signed on the bootstrap node, sent to any node), runs 8
 * balance queries at a time against random nodes and holds 2 event
 * subscriptions per node. The clients leave from 127.0.0.2, so each node sees
 * its peers at 127.0.0.1 and the clients at 127.0.0.2; on a network where
 * everything is at 127.0.0.1, a node sees their sum. Every 50 ms `ss` lists
 * the established connections; the peaks per node and per address are
 * printed. Loopback only; bounded in time. A few `wrong nonce` failures are
 * expected: a transfer signed on the bootstrap node may reach another node
 * before the previous one was relayed there.
 */
import * as http from "node:http";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Account } from "../src/rpc/gen/account_pb.ts";
import { Node } from "../src/rpc/gen/node_pb.ts";
import { Tx } from "../src/rpc/gen/tx_pb.ts";
import { DEFAULT_MAX_CONNECTIONS_PER_ADDRESS } from "../src/http/conn_limits.ts";
import {
  type BcnProcess,
  freePort,
  startBcn,
  withTempDir,
} from "../tests/e2e/helpers.ts";

const NODES = Math.min(Math.max(Number(Deno.args[0] ?? 5), 2), 8);
const SECONDS = Math.min(Math.max(Number(Deno.args[1] ?? 20), 2), 120);
const CLIENT_ADDRESS = "127.0.0.2";
const PASS = "password";

/** Connect-over-HTTP/1.1 clients of one node, leaving from CLIENT_ADDRESS. */
function clientsOf(addr: string, agent: http.Agent) {
  const transport = createConnectTransport({
    baseUrl: `http://${addr}`,
    httpVersion: "1.1",
    nodeOptions: { agent },
  });
  return {
    tx: createClient(Tx, transport),
    account: createClient(Account, transport),
    node: createClient(Node, transport),
  };
}

/** Established connections to `ports`, counted per (port, remote IP). */
async function sample(ports: Set<number>): Promise<Map<string, number>> {
  const out = await new Deno.Command("ss", {
    args: ["-tnH", "state", "established"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const counts = new Map<string, number>();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 4) continue;
    const local = cols[2];
    const peer = cols[3];
    const port = Number(local.slice(local.lastIndexOf(":") + 1));
    if (!ports.has(port)) continue;
    const ip = peer.slice(0, peer.lastIndexOf(":"));
    const key = `${port} ${ip}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

await withTempDir(async (dir) => {
  const ports = Array.from({ length: NODES }, () => freePort());
  const addrs = ports.map((p) => `127.0.0.1:${p}`);
  const procs: BcnProcess[] = [];
  const agent = new http.Agent({
    keepAlive: true,
    localAddress: CLIENT_ADDRESS,
  });
  const stop = new AbortController();
  try {
    for (const [i, addr] of addrs.entries()) {
      const cwd = `${dir}/n${i}`;
      await Deno.mkdir(cwd);
      const role = i === 0
        ? ["--bootstrap", "--authpass", PASS, "--ownerpass", PASS]
        : ["--seed", addrs[0]];
      const proc = await startBcn(
        [
          "node",
          "start",
          "--node",
          addr,
          ...role,
          "--balance",
          "1000000000",
          "--period",
          "300ms",
        ],
        { cwd },
      );
      procs.push(proc);
      await proc.waitFor("<=> gRPC", 60_000);
    }
    const owner = /owner\s+([0-9a-f]{64})/.exec(procs[0].output().stdout)![1];
    const clients = addrs.map((a) => clientsOf(a, agent));
    const random = () => clients[Math.floor(Math.random() * clients.length)];
    console.log(
      `${NODES} nodes up; load for ${SECONDS} s (clients at ${CLIENT_ADDRESS})`,
    );

    const peaks = new Map<string, number>();
    let samples = 0;
    const sampler = (async () => {
      const portSet = new Set(ports);
      while (!stop.signal.aborted) {
        for (const [key, n] of await sample(portSet)) {
          peaks.set(key, Math.max(peaks.get(key) ?? 0, n));
        }
        samples++;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    let sent = 0;
    let queries = 0;
    let failures = 0;
    const reasons = new Map<string, number>();
    const failed = (e: unknown): void => {
      failures++;
      const text = (e instanceof Error ? e.message : String(e))
        .replace(/[0-9a-f]{16,}/g, "<hex>").replace(/\d+/g, "N").slice(0, 80);
      reasons.set(text, (reasons.get(text) ?? 0) + 1);
    };
    const subscriptions = clients.flatMap((c) =>
      [0, 1].map(async () => {
        try {
          for await (
            const _ of c.node.streamSubscribe({ EventTypes: [] }, {
              signal: stop.signal,
            })
          ) { /* count nothing: held open */ }
        } catch {
          // ended by the stop signal
        }
      })
    );
    const transfers = (async () => {
      while (!stop.signal.aborted) {
        try {
          const signed = await clients[0].tx.txSign({
            From: owner,
            To: "0".repeat(64),
            Value: 1n,
            Password: PASS,
          });
          await random().tx.txSend({ Tx: signed.Tx });
          sent++;
        } catch (e) {
          failed(e);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    })();
    const queriers = Array.from({ length: 8 }, async () => {
      while (!stop.signal.aborted) {
        try {
          await random().account.accountBalance({ Address: owner });
          queries++;
        } catch (e) {
          if (!stop.signal.aborted) failed(e);
        }
      }
    });
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    stop.abort();
    await Promise.all([sampler, transfers, ...queriers, ...subscriptions]);

    console.log(
      `${sent} transfers, ${queries} balance queries, ${failures} failed calls, ${samples} samples`,
    );
    for (const [text, n] of reasons) console.log(`  failed ${n}x: ${text}`);
    console.log("peak established connections on each node, per remote IP:");
    let peerPeak = 0;
    let clientPeak = 0;
    let sumPeak = 0;
    for (const [i, port] of ports.entries()) {
      const peer = peaks.get(`${port} 127.0.0.1`) ?? 0;
      const client = peaks.get(`${port} ${CLIENT_ADDRESS}`) ?? 0;
      peerPeak = Math.max(peerPeak, peer);
      clientPeak = Math.max(clientPeak, client);
      sumPeak = Math.max(sumPeak, peer + client);
      console.log(
        `  node ${i} (${
          i === 0 ? "bootstrap" : "regular"
        }): peers 127.0.0.1 ${peer}, clients ${CLIENT_ADDRESS} ${client}`,
      );
    }
    console.log(
      `max over nodes: peers ${peerPeak}, clients ${clientPeak}, ` +
        `both from one address (upper bound) ${sumPeak}; ` +
        `bound per address ${DEFAULT_MAX_CONNECTIONS_PER_ADDRESS}`,
    );
  } finally {
    stop.abort();
    agent.destroy();
    await Promise.all(procs.map((p) => p.stop()));
  }
});
