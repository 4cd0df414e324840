/**
 * End-to-end tests of transactions accepted while the authority is
 * unreachable, with real `bcn` processes on loopback: they must reach it
 * once it is back, even across a `kill -9` of the node that holds them.
 *
 * The authority is paused with SIGSTOP until the regular nodes forget it
 * (their discovery calls time out), so a transaction sent then cannot sit
 * in a socket buffer on its way to the authority: only the regular nodes'
 * pending pools hold it. Every wait is a poll with a deadline; a paused
 * process is resumed before it is stopped.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import type { Account } from "../../src/chain/account.ts";
import { decodeSigBlock } from "../../src/chain/block.ts";
import { decodeSigGenesis } from "../../src/chain/genesis.ts";
import { timeNow } from "../../src/chain/time.ts";
import { encodeSigTx, txHash } from "../../src/chain/tx.ts";
import { readKey } from "../../src/store/key_store.ts";
import { PENDING_FILE } from "../../src/store/pending_store.ts";
import {
  type BcnProcess,
  bootstrapArgs,
  nodeStartArgs,
  poll,
  runBcn,
  stablePort,
  startBcn,
  withTempDir,
} from "./helpers.ts";

const PASS = "password";
/** Short, so a paused authority is forgotten within a few seconds. */
const PERIOD = "500ms";
/** The bound of each wait: forgetting a peer, a confirmation. */
const DEADLINE_MS = 45_000;

/** One node: its address, directory, arguments and process. */
interface HealNode {
  name: string;
  addr: string;
  dir: string;
  args: string[];
  proc?: BcnProcess;
  /** Whether the test paused it (SIGSTOP) and has not resumed it yet. */
  paused: boolean;
}

function authorityNode(tmp: string, port: number): HealNode {
  const dir = join(tmp, "a");
  const addr = `127.0.0.1:${port}`;
  return {
    name: "A",
    addr,
    dir,
    args: [...bootstrapArgs(addr, { password: PASS, dir }), "--period", PERIOD],
    paused: false,
  };
}

function regularNode(
  tmp: string,
  name: string,
  port: number,
  seed: HealNode,
): HealNode {
  const dir = join(tmp, name.toLowerCase());
  const addr = `127.0.0.1:${port}`;
  return {
    name,
    addr,
    dir,
    args: [...nodeStartArgs(port, dir, seed.addr), "--period", PERIOD],
    paused: false,
  };
}

async function start(node: HealNode): Promise<void> {
  await Deno.mkdir(node.dir, { recursive: true });
  node.proc = await startBcn(node.args, { cwd: node.dir });
  await node.proc.waitFor(`<=> gRPC ${node.addr}\n`);
}

function pause(node: HealNode): void {
  node.proc!.signal("SIGSTOP");
  node.paused = true;
}

function resume(node: HealNode): void {
  node.proc!.signal("SIGCONT");
  node.paused = false;
}

/** Stops every node, resuming a paused one first; returns their results. */
async function stopAll(nodes: HealNode[]): Promise<void> {
  for (const n of nodes) if (n.paused && n.proc) resume(n);
  await Promise.all(nodes.map((n) => n.proc?.stop()));
}

function stderrOf(node: HealNode): string {
  return node.proc?.output().stderr ?? "";
}

/** Waits until `node` logged `text` on stderr. */
async function logged(node: HealNode, text: string): Promise<void> {
  await poll(
    `${node.name} logs ${JSON.stringify(text)}`,
    () => stderrOf(node).includes(text),
    {
      timeoutMs: DEADLINE_MS,
      describe: () => `--- ${node.name} stderr\n${stderrOf(node)}`,
    },
  );
}

/** The owner (the genesis's one funded account) from the authority's keys. */
async function owner(a: HealNode): Promise<Account> {
  const genesis = decodeSigGenesis(
    await Deno.readFile(join(a.dir, "blockstore", "genesis.json")),
  );
  const [address] = genesis.balances.keys();
  return await readKey(join(a.dir, "keystore"), address, PASS);
}

/** Signs a transfer of `value` with `nonce` and sends it to `node`. */
async function send(
  from: Account,
  node: HealNode,
  nonce: bigint,
): Promise<string> {
  const tx = from.signTx({
    from: from.address,
    to: "b".repeat(64),
    value: 10n,
    nonce,
    time: timeNow(),
  });
  const res = await runBcn(
    ["tx", "send", "--node", node.addr, "--sigtx", encodeSigTx(tx)],
    { cwd: node.dir },
  );
  assertEquals([res.code, res.stderr], [0, ""], res.stdout);
  const hash = txHash(tx);
  assertEquals(res.stdout, `tx ${hash}\n`);
  return hash;
}

/** The hashes of the transactions in `node`'s block store. */
async function confirmedHashes(node: HealNode): Promise<string[]> {
  const path = join(node.dir, "blockstore", "block.store");
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((l) => l !== "").flatMap((l) =>
    decodeSigBlock(l).txs.map(txHash)
  );
}

/** Waits until the authority's block store holds `hash`. */
async function confirmed(
  a: HealNode,
  hash: string,
  others: HealNode[],
): Promise<void> {
  await poll(
    `tx ${hash.slice(0, 7)} confirmed by the authority`,
    async () => (await confirmedHashes(a)).includes(hash),
    {
      timeoutMs: DEADLINE_MS,
      intervalMs: 200,
      describe: () =>
        [a, ...others].map((n) => `--- ${n.name} stderr\n${stderrOf(n)}`)
          .join(""),
    },
  );
}

Deno.test("a transfer sent while the authority is paused is confirmed once it resumes", async () => {
  await withTempDir(async (tmp) => {
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) ports.push(stablePort(ports));
    const a = authorityNode(tmp, ports[0]);
    const n2 = regularNode(tmp, "N2", ports[1], a);
    const n3 = regularNode(tmp, "N3", ports[2], a);
    const nodes = [a, n2, n3];
    try {
      await start(a);
      const from = await owner(a);
      await Promise.all([start(n2), start(n3)]);
      await Promise.all(
        [n2, n3].map((n) => logged(n, `peer ${a.addr} joined`)),
      );

      pause(a);
      // Forgotten: no relay stream to it holds the transfer in a buffer.
      await Promise.all(
        [n2, n3].map((n) => logged(n, `peer ${a.addr} forgotten`)),
      );
      const hash = await send(from, n2, 1n);
      resume(a);

      await confirmed(a, hash, [n2, n3]);
      assertEquals(await confirmedHashes(a), [hash]);
    } finally {
      await stopAll(nodes);
    }
  });
});

Deno.test("a pending transfer survives kill -9 of its regular node and is confirmed", async () => {
  await withTempDir(async (tmp) => {
    const ports: number[] = [];
    for (let i = 0; i < 2; i++) ports.push(stablePort(ports));
    const a = authorityNode(tmp, ports[0]);
    const n2 = regularNode(tmp, "N2", ports[1], a);
    const nodes = [a, n2];
    try {
      await start(a);
      const from = await owner(a);
      await start(n2);
      await logged(n2, `peer ${a.addr} joined`);

      pause(a);
      await logged(n2, `peer ${a.addr} forgotten`);
      // N2 alone holds it: it has no other peer, and none for A now.
      const hash = await send(from, n2, 1n);
      const killed = await n2.proc!.stop("SIGKILL");
      assertEquals(killed.signal, "SIGKILL");
      const journal = await Deno.readTextFile(
        join(n2.dir, "blockstore", PENDING_FILE),
      );
      assert(journal.includes(`"nonce":1,`), journal);

      resume(a);
      await start(n2);
      await logged(
        n2,
        `restored 1 pending transactions from ${PENDING_FILE}; dropped 0`,
      );
      await confirmed(a, hash, [n2]);
      assertEquals(await confirmedHashes(a), [hash]);
      // Once confirmed, a clean stop leaves no pending file behind.
      await poll(
        "N2 confirms it too",
        async () => (await confirmedHashes(n2)).includes(hash),
        { timeoutMs: DEADLINE_MS, describe: () => stderrOf(n2) },
      );
      const res = await n2.proc!.stop();
      assertEquals(res.code, 0, res.stderr);
      assertEquals(
        [...Deno.readDirSync(join(n2.dir, "blockstore"))].map((e) => e.name)
          .filter((name) => name === PENDING_FILE),
        [],
      );
    } finally {
      await stopAll(nodes);
    }
  });
});
