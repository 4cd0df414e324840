/**
 * The connection flood of issue 15, against a real `bcn` node on loopback:
 * an attacker opens 1,100 TCP connections, sends the HTTP/2 preface and an
 * empty SETTINGS frame on each and then nothing; meanwhile a client at
 * 127.0.0.1 asks for a balance every 2 s and a regular node joins (syncs
 * from the attacked node).
 *
 *   deno run -A bench/conn_flood.ts [seconds=20] [addresses=1] [reopen]
 *
 * `addresses` > 1 spreads the attacker over 127.0.0.2, 127.0.0.3, ...
 * (enough of them fill the node's total bound); `reopen` makes it open a new
 * connection 1 s after the node closes one (at most 20,000 in all). Set
 * `BCN_MAIN` to another checkout's `src/main.ts` to attack that version.
 * Loopback only; bounded in count and time.
 */
import * as net from "node:net";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Account } from "../src/rpc/gen/account_pb.ts";
import {
  type BcnProcess,
  bootstrapArgs,
  freePort,
  startBcn,
  withTempDir,
} from "../tests/e2e/helpers.ts";

const SECONDS = Math.min(Math.max(Number(Deno.args[0] ?? 20), 4), 120);
const ADDRESSES = Math.min(Math.max(Number(Deno.args[1] ?? 1), 1), 50);
const REOPEN = Deno.args[2] === "reopen";
const CONNECTIONS = 1100;
const MAX_OPENS = 20_000;
const PASS = "password";
const ATTACK = new Uint8Array([
  ...new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
  ...[0, 0, 0, 4, 0, 0, 0, 0, 0],
]);

/** Starts bcn, from `BCN_MAIN` when set. */
function bcn(args: string[], cwd: string): Promise<BcnProcess> {
  return startBcn(args, { cwd, main: Deno.env.get("BCN_MAIN") });
}

await withTempDir(async (dir) => {
  const procs: BcnProcess[] = [];
  const sockets = new Set<net.Socket>();
  let stopping = false;
  try {
    const port = freePort();
    const addr = `127.0.0.1:${port}`;
    await Deno.mkdir(`${dir}/boot`);
    const boot = await bcn(
      [...bootstrapArgs(addr, { password: PASS }), "--period", "1s"],
      `${dir}/boot`,
    );
    procs.push(boot);
    await boot.waitFor("<=> gRPC", 60_000);
    const owner = /owner\s+([0-9a-f]{64})/.exec(boot.output().stdout)![1];

    // The attacker.
    let opened = 0;
    let connected = 0;
    let answered503 = 0;
    let closedByNode = 0;
    const open = (i: number): void => {
      if (stopping || opened >= MAX_OPENS) return;
      opened++;
      const localAddress = `127.0.0.${2 + (i % ADDRESSES)}`;
      const s = net.connect({ host: "127.0.0.1", port, localAddress });
      sockets.add(s);
      let got = "";
      s.on("connect", () => {
        connected++;
        s.write(ATTACK);
      });
      s.on("data", (chunk: Uint8Array) => {
        if (got.length < 16) got += String.fromCharCode(...chunk);
      });
      s.on("error", () => {});
      s.on("close", () => {
        sockets.delete(s);
        if (stopping) return;
        closedByNode++;
        if (got.startsWith("HTTP/1.1 503")) answered503++;
        if (REOPEN) setTimeout(() => open(i), 1000);
      });
    };
    const t0 = Date.now();
    for (let i = 0; i < CONNECTIONS; i++) {
      open(i);
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
    }
    const elapsed = () => ((Date.now() - t0) / 1000).toFixed(1).padStart(5);
    console.log(
      `attack: ${CONNECTIONS} connections (preface + SETTINGS) from ${ADDRESSES} address(es)${
        REOPEN ? ", re-opened when closed" : ""
      }`,
    );

    // A client at 127.0.0.1, and a regular node joining.
    const account = createClient(
      Account,
      createConnectTransport({ baseUrl: `http://${addr}`, httpVersion: "1.1" }),
    );
    await Deno.mkdir(`${dir}/reg`);
    const joining = (async () => {
      await new Promise((r) => setTimeout(r, 1500));
      const reg = await bcn([
        "node",
        "start",
        "--node",
        `127.0.0.1:${freePort()}`,
        "--seed",
        addr,
        "--period",
        "1s",
      ], `${dir}/reg`);
      procs.push(reg);
      const started = Date.now();
      try {
        await reg.waitFor("<=> gRPC", (SECONDS - 2) * 1000);
        return `regular node synced from the attacked node in ${
          ((Date.now() - started) / 1000).toFixed(1)
        } s (process start included)`;
      } catch {
        return `regular node did NOT sync within ${SECONDS - 2} s`;
      }
    })();
    let ok = 0;
    let failed = 0;
    while (Date.now() - t0 < SECONDS * 1000) {
      await new Promise((r) => setTimeout(r, 2000));
      const started = Date.now();
      let result: string;
      try {
        const res = await account.accountBalance({ Address: owner }, {
          timeoutMs: 5000,
        });
        ok++;
        result = `balance ${res.Balance} in ${Date.now() - started} ms`;
      } catch (e) {
        failed++;
        result = `FAILED after ${Date.now() - started} ms: ${
          (e as Error).message.split("\n")[0]
        }`;
      }
      console.log(
        `t=${elapsed()} s  attacker holds ${
          String(sockets.size).padStart(4)
        } (opened ${opened}, connected ${connected}, closed by node ${closedByNode}, 503 ${answered503})  query from 127.0.0.1: ${result}`,
      );
    }
    console.log(await joining);
    console.log(`queries from 127.0.0.1: ${ok} ok, ${failed} failed`);
  } finally {
    stopping = true;
    for (const s of sockets) s.destroy();
    await Promise.all(procs.map((p) => p.stop()));
  }
});
