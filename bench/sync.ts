/**
 * The sync benchmark: `deno task bench:sync [blocks] [txsPerBlock]`
 * (default 1000 x 10).
 *
 * Builds a chain of `blocks` blocks of `txsPerBlock` transfers with the
 * project's own code (signed by real accounts), serves it from a bootstrap
 * node (`bcn node start --bootstrap` on the prepared store, a real process),
 * syncs a fresh regular node process from it, and prints:
 *
 * - the bootstrap's first start on the prepared store (a full replay, in
 *   which it signs a checkpoint every 1000 blocks),
 * - fresh sync (`--sync full`): seconds to serving and tx/s,
 * - checkpoint join (`--sync checkpoint`): seconds from spawning the node to
 *   its first answer of the current balance of an account, then the
 *   backfill's rate (tx/s from the join to `block.store` complete) and
 *   whether its `block.store` ends byte-identical to the bootstrap's, and
 *   the joining node's peak RSS,
 * - peak RSS (VmHWM) of the syncing node, and its RSS at a quarter, half,
 *   three quarters and the end of the sync (flat memory shows as flat
 *   figures),
 * - the bootstrap's restart with its snapshot, and with `--reverify`,
 * - the bounds, measured in the same run just before and just after the
 *   fresh sync: the verification pool's pure signature recovery rate, and
 *   its pure rate of checking signatures of signers it knows (the chain's
 *   senders and authority sign again and again, and a known signer's
 *   signature is checked against its key instead of recovered),
 * - where the CPU went (Linux): the syncing node's verification workers,
 *   main thread and V8 helper threads, and the serving bootstrap's.
 *
 * The machine may be shared: compare the figures with the bound beside them,
 * not with figures of another run.
 *
 * @module
 */
import { join } from "node:path";
import { Account } from "../src/chain/account.ts";
import { encodeSigBlock, type SigBlock } from "../src/chain/block.ts";
import { genesisHash, newGenesis } from "../src/chain/genesis.ts";
import { blockHash } from "../src/chain/block.ts";
import { timeNow } from "../src/chain/time.ts";
import { merkleRoot } from "../src/chain/merkle.ts";
import { type SigTx, txHash } from "../src/chain/tx.ts";
import { writeKey } from "../src/store/key_store.ts";
import { BLOCKS_FILE, BlockStore } from "../src/store/block_store.ts";
import { recoveryRate } from "../src/node/verify/pool.ts";
import {
  type BcnProcess,
  freePort,
  runBcn,
  startBcn,
} from "../tests/e2e/helpers.ts";
import { makeTempDir } from "../tests/support.ts";
import { createPeerClients } from "../src/rpc/registry.ts";
import { PeerTransport } from "../src/rpc/transport.ts";
import { cpuSplit, threadTimes } from "./thread_cpu.ts";

const BLOCKS = Number(Deno.args[0] ?? 1000);
const PER_BLOCK = Number(Deno.args[1] ?? 10);
const PASS = "bench password";
const SERVE_TIMEOUT_MS = 3_600_000;

/** The pool's pure rates: recovering signatures, checking known ones. */
async function bounds() {
  return {
    recovery: await recoveryRate({ seconds: 3 }),
    check: await recoveryRate({ seconds: 3, known: true }),
  };
}

/** Writes a keystore, a genesis and `block.store` for the chain. */
async function makeChain(
  dir: string,
): Promise<{ bytes: number; probe: { address: string; balance: bigint } }> {
  const auth = Account.create();
  const senders = Array.from({ length: PER_BLOCK }, () => Account.create());
  // A fixed set of receivers keeps the printed state short.
  const receivers = Array.from({ length: 16 }, () => Account.create().address);
  await writeKey(join(dir, "keys"), auth, PASS);
  const genesis = auth.signGenesis({
    ...newGenesis("bench", {
      authority: auth.address,
      balances: senders.map((s) => [s.address, 1_000_000_000_000n]),
    }),
  });
  const store = await BlockStore.open(join(dir, "boot"));
  await store.writeGenesis(genesis);
  const file = await Deno.open(join(dir, "boot", BLOCKS_FILE), {
    create: true,
    write: true,
    truncate: true,
  });
  const enc = new TextEncoder();
  let parent = genesisHash(genesis);
  let bytes = 0;
  let pending: Uint8Array[] = [];
  for (let n = 1; n <= BLOCKS; n++) {
    const time = timeNow();
    const txs: SigTx[] = senders.map((s, i) =>
      s.signTx({
        from: s.address,
        to: receivers[(n + i) % receivers.length],
        value: 1n,
        nonce: BigInt(n),
        time,
      })
    );
    const block: SigBlock = auth.signBlock({
      number: BigInt(n),
      parent,
      txs,
      merkleRoot: merkleRoot(txs.map(txHash)),
      time,
    });
    parent = blockHash(block);
    const line = enc.encode(encodeSigBlock(block) + "\n");
    bytes += line.length;
    pending.push(line);
    if (pending.length >= 200 || n === BLOCKS) {
      for (const l of pending) {
        let off = 0;
        while (off < l.length) off += await file.write(l.subarray(off));
      }
      pending = [];
    }
  }
  await file.syncData();
  file.close();
  // Receiver 0 gets 1 from sender i in every block n with (n + i) % 16 == 0.
  let balance = 0n;
  for (let n = 1; n <= BLOCKS; n++) {
    for (let i = 0; i < PER_BLOCK; i++) {
      if ((n + i) % receivers.length === 0) balance++;
    }
  }
  return { bytes, probe: { address: receivers[0], balance } };
}

/**
 * A node joining from a checkpoint: seconds from spawning it to its first
 * answer of `probe`'s current balance, seconds from then to the end of
 * its backfill, its peak RSS, and whether its block.store is then the
 * bootstrap's.
 */
async function checkpointJoin(
  args: string[],
  addr: string,
  probe: { address: string; balance: bigint },
  dir: string,
  bootDir: string,
) {
  const t0 = performance.now();
  const bcn = await startBcn(args, { env: { BCN_AUTHPASS: PASS } });
  const transport = new PeerTransport(addr, "connect");
  const { account } = createPeerClients(transport);
  try {
    let serving: number | undefined;
    // When the join line showed (the backfill starts there), polled.
    let joinedAt: number | undefined;
    for (let i = 0; i < 60_000 / 25; i++) {
      if (
        joinedAt === undefined &&
        bcn.output().stderr.includes("joined from checkpoint")
      ) joinedAt = performance.now();
      try {
        const res = await account.accountBalance({ Address: probe.address }, {
          timeoutMs: 1000,
        });
        if (res.Balance === probe.balance) {
          serving = (performance.now() - t0) / 1000;
          break;
        }
      } catch {
        // Not listening, or not serving yet.
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    if (serving === undefined) throw new Error("the joining node never served");
    const t1 = joinedAt ?? performance.now();
    // A node that served without joining from a checkpoint (the chain is
    // shorter than an interval) has no backfill to wait for.
    const backfilling = bcn.output().stderr.includes("joined from checkpoint");
    for (let i = 0; backfilling && i < SERVE_TIMEOUT_MS / 25; i++) {
      if (bcn.output().stderr.includes("backfill done")) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const backfill = (performance.now() - t1) / 1000;
    const joined = /joined from checkpoint (\d+)/.exec(bcn.output().stderr);
    const rss = statusMb(bcn.pid, "VmHWM");
    const cpu = cpuSplit(new Map(), threadTimes(bcn.pid));
    const same = await Deno.readFile(join(dir, BLOCKS_FILE)).then((a) =>
      Deno.readFile(join(bootDir, BLOCKS_FILE)).then((b) =>
        a.length === b.length && a.every((x, i) => x === b[i])
      )
    );
    return {
      serving,
      backfill,
      checkpoint: joined ? Number(joined[1]) : 0,
      rss,
      cpu,
      same,
      stderr: bcn.output().stderr,
    };
  } finally {
    transport.close();
    await bcn.stop();
  }
}

/**
 * Seconds from spawning `bcn ARGS` to its `<=> gRPC` line, and its resident
 * set (MB) sampled every 250 ms until then (empty where /proc is not).
 */
async function startTimed(
  args: string[],
): Promise<{ bcn: BcnProcess; seconds: number; rss: number[] }> {
  const t0 = performance.now();
  const bcn = await startBcn(args, { env: { BCN_AUTHPASS: PASS } });
  const rss: number[] = [];
  const sampler = setInterval(() => {
    const mb = statusMb(bcn.pid, "VmRSS");
    if (mb !== undefined) rss.push(mb);
  }, 250);
  try {
    await bcn.waitFor("<=> gRPC ", SERVE_TIMEOUT_MS);
  } catch (e) {
    await bcn.stop();
    throw e;
  } finally {
    clearInterval(sampler);
  }
  return { bcn, seconds: (performance.now() - t0) / 1000, rss };
}

/** The samples at a quarter, half, three quarters and the end of a run. */
function quarters(samples: number[]): string {
  if (samples.length === 0) return "unknown";
  return [0.25, 0.5, 0.75, 1]
    .map((q) => samples[Math.max(0, Math.ceil(q * samples.length) - 1)])
    .map((mb) => f(mb, 0))
    .join(" / ") + " MB";
}

/**
 * A size from a process's /proc status (`VmRSS`, `VmHWM`) in MB, or
 * undefined where there is no /proc.
 */
function statusMb(pid: number, field: string): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function supportsReverify(): Promise<boolean> {
  const help = await runBcn(["node", "start", "--help"]);
  return help.stdout.includes("--reverify");
}

function f(n: number, digits = 1): string {
  return n.toFixed(digits);
}

// Under the tests' root: the bcn children may write only there.
const dir = await makeTempDir("bcn_bench_sync_");
const lines: string[] = [];
const report = (line: string) => {
  lines.push(line);
  console.log(line);
};
// The bootstrap running now; stopped however the run ends, or its pipes
// keep the benchmark from exiting.
let boot: Awaited<ReturnType<typeof startTimed>> | undefined;
try {
  const txs = BLOCKS * PER_BLOCK;
  report(`bcn sync benchmark: ${BLOCKS} blocks x ${PER_BLOCK} transfers`);
  let t0 = performance.now();
  const { bytes, probe } = await makeChain(dir);
  report(
    `chain made in ${f((performance.now() - t0) / 1000)} s ` +
      `(${f(bytes / 1e6)} MB of block.store)`,
  );
  const bootPort = freePort();
  const bootArgs = [
    "node",
    "start",
    "--node",
    `127.0.0.1:${bootPort}`,
    "--bootstrap",
    "--keystore",
    join(dir, "keys"),
    "--blockstore",
    join(dir, "boot"),
    "--period",
    "60s",
  ];
  // A regular node syncing from the bootstrap, its stores under `dir`.
  const regularArgs = (
    port: number,
    keys: string,
    store: string,
    sync: "full" | "checkpoint",
  ) => [
    "node",
    "start",
    "--node",
    `127.0.0.1:${port}`,
    "--seed",
    `127.0.0.1:${bootPort}`,
    "--keystore",
    join(dir, keys),
    "--blockstore",
    join(dir, store),
    "--period",
    "60s",
    "--sync",
    sync,
  ];
  // 1. The bootstrap's first start replays the prepared store in full.
  boot = await startTimed(bootArgs);
  report(
    `bootstrap first start (full replay): ${f(boot.seconds, 2)} s, ` +
      `${f(txs / boot.seconds, 0)} tx/s`,
  );
  // The bound just before and just after the sync, so a shared machine's
  // changing load shows.
  const before = await bounds();
  // 2. A fresh regular node syncs the whole chain from the bootstrap.
  const freshPort = freePort();
  const bootCpu = threadTimes(boot.bcn.pid);
  t0 = performance.now();
  const fresh = await startTimed(
    regularArgs(freshPort, "keys2", "fresh", "full"),
  );
  const rss = statusMb(fresh.bcn.pid, "VmHWM");
  // Where the CPU went (read after the timing): the syncing node since it
  // started, the serving bootstrap during the sync.
  const freshSplit = cpuSplit(new Map(), threadTimes(fresh.bcn.pid));
  const bootSplit = cpuSplit(bootCpu, threadTimes(boot.bcn.pid));
  await fresh.bcn.stop();
  const after = await bounds();
  const syncRate = txs / fresh.seconds;
  report(
    `fresh sync: ${f(fresh.seconds, 2)} s to serving, ${f(syncRate, 0)} tx/s`,
  );
  report(
    `peak RSS of the syncing node: ${
      rss === undefined ? "unknown" : `${f(rss)} MB`
    }`,
  );
  report(
    `RSS of the syncing node at 1/4, 1/2, 3/4 and the end of the sync: ` +
      quarters(fresh.rss),
  );
  if (freshSplit) report(`syncing node: ${freshSplit}`);
  if (bootSplit) report(`serving bootstrap during the sync: ${bootSplit}`);
  // 3. A fresh regular node joins from the bootstrap's checkpoint.
  const joinPort = freePort();
  const joined = await checkpointJoin(
    regularArgs(joinPort, "keys3", "joined", "checkpoint"),
    `127.0.0.1:${joinPort}`,
    probe,
    join(dir, "joined"),
    join(dir, "boot"),
  );
  if (joined.checkpoint === 0) {
    report(`checkpoint join: no checkpoint taken\n${joined.stderr}`);
  } else {
    const below = joined.checkpoint * PER_BLOCK;
    report(
      `checkpoint join (checkpoint ${joined.checkpoint}): ${
        f(joined.serving, 2)
      } s from start to serving the current balance`,
    );
    report(
      `backfill of blocks 1 to ${joined.checkpoint} (assume-valid): ${
        f(joined.backfill, 2)
      } s, ${f(below / joined.backfill, 0)} tx/s; block.store ${
        joined.same ? "byte-identical to" : "DIFFERS from"
      } the bootstrap's`,
    );
    if (joined.cpu) report(`joining node: ${joined.cpu}`);
    report(
      `peak RSS of the joining node: ${
        joined.rss === undefined ? "unknown" : `${f(joined.rss)} MB`
      }`,
    );
  }
  // 4. Restarts of the bootstrap on its store.
  await boot.bcn.stop();
  boot = await startTimed(bootArgs);
  report(`bootstrap restart (snapshot if any): ${f(boot.seconds, 2)} s`);
  await boot.bcn.stop();
  if (await supportsReverify()) {
    boot = await startTimed([...bootArgs, "--reverify"]);
    report(`bootstrap restart with --reverify: ${f(boot.seconds, 2)} s`);
    await boot.bcn.stop();
  }
  // 5. The bounds, in the same run.
  const workers = before.recovery.workers;
  report(
    `bound: pure signature recovery of the pool (${workers} workers): ` +
      `${f(before.recovery.rate, 0)} /s before the sync, ` +
      `${f(after.recovery.rate, 0)} /s after`,
  );
  report(
    `bound: pure check of known signers' signatures (${workers} workers): ` +
      `${f(before.check.rate, 0)} /s before the sync, ` +
      `${f(after.check.rate, 0)} /s after`,
  );
  const mean = (k: "recovery" | "check") =>
    (before[k].rate + after[k].rate) / 2;
  report(
    `fresh sync / recovery bound: ${
      f((100 * syncRate) / mean("recovery"), 0)
    } %`,
  );
  report(
    `fresh sync / check bound: ${f((100 * syncRate) / mean("check"), 0)} %`,
  );
} finally {
  await boot?.bcn.stop();
  await Deno.remove(dir, { recursive: true });
}
