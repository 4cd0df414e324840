/**
 * The ingest benchmark:
 * `deno task bench:ingest [clients] [txsPerClient] [repeat|fresh]`
 * (default 30 x 100, repeat).
 *
 * Starts a bootstrap node (a real `bcn node start` process) on a genesis
 * that funds the senders, then has every client send its signed transfers
 * one after another over Connect JSON (HTTP/1.1), all clients at once, and
 * prints the transactions per second the node took. With `repeat` each
 * client is one account sending all its transfers (the node checks a
 * repeat signer's signatures against its known key); with `fresh` every
 * transfer comes from an account of its own, so every signature is
 * recovered: the worst case. The bound beside it, measured in the same
 * run, is the verification pool's pure signature-recovery rate. On Linux
 * it also prints where the CPU went: the node's verification workers, main
 * thread and V8 helper threads, and the clients'.
 *
 * @module
 */
import { join } from "node:path";
import { Account } from "../src/chain/account.ts";
import { newGenesis } from "../src/chain/genesis.ts";
import { timeNow } from "../src/chain/time.ts";
import { encodeSigTx } from "../src/chain/tx.ts";
import { createPeerClients } from "../src/rpc/registry.ts";
import { PeerTransport } from "../src/rpc/transport.ts";
import { writeKey } from "../src/store/key_store.ts";
import { BlockStore } from "../src/store/block_store.ts";
import { recoveryRate } from "../src/node/verify/pool.ts";
import { freePort, startBcn } from "../tests/e2e/helpers.ts";
import { makeTempDir } from "../tests/support.ts";
import { cpuSplit, cpuTotal, threadTimes } from "./thread_cpu.ts";

const CLIENTS = Number(Deno.args[0] ?? 30);
const PER_CLIENT = Number(Deno.args[1] ?? 100);
const FRESH = Deno.args[2] === "fresh";
if (Deno.args[2] !== undefined && !FRESH && Deno.args[2] !== "repeat") {
  console.error(
    `bench:ingest: senders must be repeat or fresh, not ${Deno.args[2]}`,
  );
  Deno.exit(2);
}
const PASS = "bench password";

// Under the tests' root: the bcn children may write only there.
const dir = await makeTempDir("bcn_bench_ingest_");
try {
  const auth = Account.create();
  // One account per client, or (fresh) one per transfer.
  const senders = Array.from(
    { length: CLIENTS },
    () =>
      Array.from({ length: FRESH ? PER_CLIENT : 1 }, () => Account.create()),
  );
  const receiver = Account.create().address;
  await writeKey(join(dir, "keys"), auth, PASS);
  const store = await BlockStore.open(join(dir, "boot"));
  await store.writeGenesis(auth.signGenesis({
    ...newGenesis("bench", {
      authority: auth.address,
      balances: senders.flat().map((s) => [s.address, 1_000_000_000n]),
    }),
  }));
  const enc = new TextEncoder();
  // Signed beforehand: what is timed is the node taking them.
  const bodies = senders.map((mine) =>
    Array.from({ length: PER_CLIENT }, (_, i) => {
      const s = mine[FRESH ? i : 0];
      return enc.encode(encodeSigTx(s.signTx({
        from: s.address,
        to: receiver,
        value: 1n,
        nonce: BigInt(FRESH ? 1 : i + 1),
        time: timeNow(),
      })));
    })
  );
  const port = freePort();
  const addr = `127.0.0.1:${port}`;
  const boot = await startBcn([
    "node",
    "start",
    "--node",
    addr,
    "--bootstrap",
    "--keystore",
    join(dir, "keys"),
    "--blockstore",
    join(dir, "boot"),
    "--period",
    "60s",
  ], { env: { BCN_AUTHPASS: PASS } });
  try {
    await boot.waitFor("<=> gRPC ", 60_000);
    const total = CLIENTS * PER_CLIENT;
    const nodeCpu = threadTimes(boot.pid);
    const clientCpu = threadTimes(Deno.pid);
    const t0 = performance.now();
    await Promise.all(bodies.map(async (mine) => {
      const transport = new PeerTransport(addr, "connect");
      try {
        const { tx } = createPeerClients(transport);
        for (const body of mine) await tx.txSend({ Tx: body });
      } finally {
        transport.close();
      }
    }));
    const s = (performance.now() - t0) / 1000;
    const nodeSplit = cpuSplit(nodeCpu, threadTimes(boot.pid));
    const clientSeconds = cpuTotal(clientCpu, threadTimes(Deno.pid));
    console.log(
      `ingest: ${total} transfers from ${CLIENTS} parallel clients ` +
        `(${
          FRESH ? "every transfer from a fresh account" : "an account each"
        }) in ` +
        `${s.toFixed(2)} s: ${(total / s).toFixed(0)} tx/s`,
    );
    // Where the CPU went (Linux): the node's threads, and the clients (this
    // process) that share the machine with it.
    if (nodeSplit) console.log(`node: ${nodeSplit}`);
    if (nodeSplit) console.log(`clients: ${clientSeconds.toFixed(1)} s CPU`);
  } finally {
    await boot.stop();
  }
  const bound = await recoveryRate({ seconds: 3 });
  console.log(
    `bound: pure signature recovery ${bound.rate.toFixed(0)} /s ` +
      `(${bound.workers} workers)`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
