/**
 * End-to-end tests of catching up without a new block (issue "never stuck"):
 * a regular node that missed blocks while it was frozen (SIGSTOP), or while
 * its peers refused it, learns from its peers that it is behind and fetches
 * the blocks on a chain where nothing new happens. Real `bcn` processes on
 * loopback ports, `--period 1s`.
 *
 * Transfers are signed here with the owner's key file and sent to the
 * bootstrap node through the library's client; the CLI is tested elsewhere.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { decodeSigGenesis } from "../../src/chain/genesis.ts";
import { timeNow } from "../../src/chain/time.ts";
import { encodeSigTx } from "../../src/chain/tx.ts";
import { PeerRegistry } from "../../src/rpc/registry.ts";
import { readKey } from "../../src/store/key_store.ts";
import {
  type BcnProcess,
  poll,
  type PollOptions,
  stablePort,
  startBcn,
  withTempDir,
} from "./helpers.ts";

const PASS = "password";
const PERIOD_MS = 1000;
/** Every poll gives up after this long. */
const DEADLINE_MS = 60_000;
/** The pause between two polls. */
const POLL_MS = 100;
/** Blocks confirmed while the node cannot get them. */
const MISSED_BLOCKS = 4;

/** One node of the test network. */
interface TestNode {
  name: string;
  addr: string;
  dir: string;
  args: string[];
  proc?: BcnProcess;
}

/** How the waits here poll; a timeout shows every node's output. */
function pollOptions(nodes: TestNode[]): PollOptions {
  return {
    describe: () => outputs(nodes),
    timeoutMs: DEADLINE_MS,
    intervalMs: POLL_MS,
  };
}

function makeNodes(tmp: string, count: number): TestNode[] {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(stablePort(ports));
  return ports.map((port, i) => {
    const dir = join(tmp, `n${i + 1}`);
    return {
      name: `N${i + 1}`,
      addr: `127.0.0.1:${port}`,
      dir,
      args: [
        "node",
        "start",
        "--node",
        `127.0.0.1:${port}`,
        ...(i === 0
          ? [
            "--bootstrap",
            "--authpass",
            PASS,
            "--ownerpass",
            PASS,
            "--balance",
            "1000000",
          ]
          : ["--seed", `127.0.0.1:${ports[0]}`]),
        "--keystore",
        join(dir, "keystore"),
        "--blockstore",
        join(dir, "blockstore"),
        "--period",
        `${PERIOD_MS}ms`,
      ],
    };
  });
}

async function start(node: TestNode): Promise<void> {
  node.proc = await startBcn(node.args, { cwd: node.dir });
  await node.proc.waitFor(`<=> gRPC ${node.addr}\n`);
}

async function storeOf(node: TestNode): Promise<string> {
  try {
    return await Deno.readTextFile(join(node.dir, "blockstore", "block.store"));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "";
    throw e;
  }
}

function blockCount(store: string): number {
  return store.split("\n").filter((l) => l !== "").length;
}

function stderrOf(node: TestNode): string {
  return node.proc?.output().stderr ?? "";
}

function count(text: string, line: string): number {
  return text.split("\n").filter((l) => l === line).length;
}

function outputs(nodes: TestNode[]): string {
  return nodes.map((n) =>
    `=== ${n.name} ${n.addr}\n--- stdout\n${n.proc?.output().stdout}--- stderr\n${
      stderrOf(n)
    }`
  ).join("\n");
}

/** Waits until `node` logged that `peer` joined it `times` times. */
async function joined(
  node: TestNode,
  peer: TestNode,
  nodes: TestNode[],
  times = 1,
): Promise<void> {
  await poll(
    `${node.name} sees ${peer.name} join (${times}x)`,
    () => count(stderrOf(node), `peer ${peer.addr} joined`) >= times,
    pollOptions(nodes),
  );
}

/** Waits until `node` logged that it forgot `peer`. */
async function forgets(
  node: TestNode,
  peer: TestNode,
  nodes: TestNode[],
): Promise<void> {
  await poll(
    `${node.name} forgets ${peer.name}`,
    () => stderrOf(node).includes(`peer ${peer.addr} forgotten after`),
    pollOptions(nodes),
  );
}

/**
 * Confirms `blocks` more blocks on the bootstrap node `boot`, one transfer
 * each, signed with the owner's key; resolves once `boot` stored them.
 */
async function confirmBlocks(
  boot: TestNode,
  blocks: number,
  nodes: TestNode[],
): Promise<void> {
  const genesis = decodeSigGenesis(
    await Deno.readFile(join(boot.dir, "blockstore", "genesis.json")),
  );
  const [owner] = genesis.balances.keys();
  const account = await readKey(join(boot.dir, "keystore"), owner, PASS);
  const registry = new PeerRegistry({ protocol: "connect" });
  try {
    const tx = registry.clients(boot.addr).tx;
    for (let i = 0; i < blocks; i++) {
      const have = blockCount(await storeOf(boot));
      const signed = account.signTx({
        from: owner,
        to: owner,
        value: 1n,
        nonce: BigInt(have + 1),
        time: timeNow(),
      });
      await tx.txSend({ Tx: new TextEncoder().encode(encodeSigTx(signed)) });
      await poll(
        `${boot.name} confirms block ${have + 1}`,
        async () => blockCount(await storeOf(boot)) > have,
        pollOptions(nodes),
      );
    }
  } finally {
    registry.close();
  }
}

/**
 * Waits until `node` holds exactly the block store of `reference`; resolves
 * to how long it took.
 */
async function caughtUp(
  node: TestNode,
  reference: TestNode,
  nodes: TestNode[],
): Promise<number> {
  const want = await storeOf(reference);
  assertEquals(blockCount(want) >= MISSED_BLOCKS, true);
  const t0 = Date.now();
  await poll(
    `${node.name} catches up with ${reference.name}`,
    async () => await storeOf(node) === want,
    pollOptions(nodes),
  );
  return Date.now() - t0;
}

/** Stops the nodes, continuing a frozen one first; checks clean exits. */
async function stopAll(nodes: TestNode[], check: boolean): Promise<void> {
  for (const n of nodes) {
    if (!n.proc) continue;
    try {
      n.proc.signal("SIGCONT");
    } catch {
      // Already gone.
    }
    const res = await n.proc.stop();
    if (check) assertEquals(res.code, 0, `${n.name}: ${res.stderr}`);
  }
}

Deno.test("a frozen node resumed on an idle chain catches up from its peers, and rejoins", async () => {
  await withTempDir(async (tmp) => {
    const nodes = makeNodes(tmp, 3);
    const [n1, n2, n3] = nodes;
    for (const n of nodes) await Deno.mkdir(n.dir);
    let done = false;
    try {
      await start(n1);
      await Promise.all([start(n2), start(n3)]);
      await joined(n1, n3, nodes);
      await joined(n3, n1, nodes);
      await joined(n2, n3, nodes);

      // Frozen, it is forgotten by its peers (as in the issue), which then
      // relay it nothing: only asking them can tell it what it missed.
      n3.proc!.signal("SIGSTOP");
      await forgets(n1, n3, nodes);
      await forgets(n2, n3, nodes);
      await confirmBlocks(n1, MISSED_BLOCKS, nodes);
      await caughtUp(n2, n1, nodes);
      const idle = await storeOf(n1);
      assertEquals(blockCount(await storeOf(n3)), 0);

      n3.proc!.signal("SIGCONT");
      const ms = await caughtUp(n3, n1, nodes);
      // Nothing new was confirmed: the peers were asked, no block came.
      assertEquals(await storeOf(n1), idle);
      assert(
        !stderrOf(n3).includes("catch-up failed"),
        stderrOf(n3),
      );
      console.log(
        `frozen node caught up ${MISSED_BLOCKS} blocks ${ms} ms after SIGCONT (period ${PERIOD_MS} ms)`,
      );

      // Discovery lets it rejoin: the bootstrap node lists it again (it
      // calls the bootstrap node, which remembers callers), the other node
      // learns it from there, and both relay to it again.
      await joined(n1, n3, nodes, 2);
      await joined(n2, n3, nodes, 2);
      await confirmBlocks(n1, 1, nodes);
      await caughtUp(n3, n1, nodes);
      await caughtUp(n2, n1, nodes);
      done = true;
    } catch (e) {
      throw new Error(`${(e as Error).stack}\n${outputs(nodes)}`);
    } finally {
      await stopAll(nodes, done);
    }
  });
});

Deno.test("a node its peers refuse for several periods catches up once they take it again", async () => {
  await withTempDir(async (tmp) => {
    const nodes = makeNodes(tmp, 2);
    const [n1, n2] = nodes;
    for (const n of nodes) await Deno.mkdir(n.dir);
    let done = false;
    try {
      await start(n1);
      await start(n2);
      await joined(n1, n2, nodes);
      await joined(n2, n1, nodes);

      // N2 misses blocks (frozen and forgotten, so nothing is relayed to
      // it), then, running, finds every connection to its peer refused: N1
      // is down.
      n2.proc!.signal("SIGSTOP");
      await forgets(n1, n2, nodes);
      await confirmBlocks(n1, MISSED_BLOCKS, nodes);
      const res = await n1.proc!.stop();
      assertEquals(res.code, 0, res.stderr);
      n2.proc!.signal("SIGCONT");
      await forgets(n2, n1, nodes);
      assertEquals(blockCount(await storeOf(n2)), 0);

      // N1 comes back on its port with its store (the genesis flags are
      // ignored then), and proposes nothing.
      const before = await storeOf(n1);
      await start(n1);
      const ms = await caughtUp(n2, n1, nodes);
      assertEquals(await storeOf(n1), before);
      console.log(
        `cut-off node caught up ${MISSED_BLOCKS} blocks ${ms} ms after its peer came back (period ${PERIOD_MS} ms)`,
      );
      done = true;
    } catch (e) {
      throw new Error(`${(e as Error).stack}\n${outputs(nodes)}`);
    } finally {
      await stopAll(nodes, done);
    }
  });
});
