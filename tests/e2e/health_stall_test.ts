/**
 * End-to-end test of a regular node's health while its authority is frozen
 * (SIGSTOP): with a transaction waiting, `/healthz` must stop answering
 * `ok` and say that the chain is stalled or that the authority is
 * unreachable, although the node itself runs; once the authority runs
 * again and a block comes, it is `ok` again. Real `bcn` processes on
 * loopback ports, `--period 1s`.
 *
 * The transfer is signed here with the owner's key file and sent through
 * the library's client. After SIGCONT the same transfer is sent to the
 * authority as well, so a block comes whether or not the regular node's
 * relay hands it over by itself.
 */
import { join } from "node:path";
import { assert } from "../assert.ts";
import { decodeSigGenesis } from "../../src/chain/genesis.ts";
import { timeNow } from "../../src/chain/time.ts";
import { encodeSigTx } from "../../src/chain/tx.ts";
import {
  decodeStatus,
  type NodeStatus,
} from "../../src/node/observe/status.ts";
import { PeerRegistry } from "../../src/rpc/registry.ts";
import { readKey } from "../../src/store/key_store.ts";
import {
  type BcnProcess,
  bootstrapArgs,
  poll,
  type PollOptions,
  stablePort,
  startBcn,
  withTempDir,
} from "./helpers.ts";

const PASS = "password";
const PERIOD_MS = 1000;
/**
 * Every wait gives up after this long: the node says it is stalled 5
 * periods after it sees the transaction waiting, and discovery drops a
 * frozen authority after 3 rounds of a period and a 2 s call timeout each;
 * both are well within it, on a loaded machine too.
 */
const DEADLINE_MS = 60_000;
/** The pause between two polls. */
const POLL_MS = 250;
/** Bound of one HTTP request to a node. */
const REQUEST_TIMEOUT_MS = 5_000;

/** One node of the test network. */
interface TestNode {
  name: string;
  addr: string;
  dir: string;
  proc?: BcnProcess;
}

function outputs(nodes: TestNode[]): string {
  return nodes.map((n) => {
    const out = n.proc?.output();
    return `=== ${n.name} ${n.addr}\n--- stdout\n${out?.stdout}--- stderr\n${out?.stderr}`;
  }).join("\n");
}

async function get(
  node: TestNode,
  path: string,
): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${node.addr}${path}`, {
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return { status: res.status, body: await res.text() };
}

async function statusOf(node: TestNode): Promise<NodeStatus> {
  return decodeStatus((await get(node, "/status")).body);
}

Deno.test("a regular node says its frozen authority stalls the chain, and is ok once a block comes", async () => {
  await withTempDir(async (tmp) => {
    const bootPort = stablePort([]);
    const regularPort = stablePort([bootPort]);
    const boot: TestNode = {
      name: "authority",
      addr: `127.0.0.1:${bootPort}`,
      dir: join(tmp, "authority"),
    };
    const regular: TestNode = {
      name: "regular",
      addr: `127.0.0.1:${regularPort}`,
      dir: join(tmp, "regular"),
    };
    const nodes = [boot, regular];
    const options: PollOptions = {
      timeoutMs: DEADLINE_MS,
      intervalMs: POLL_MS,
      describe: () => outputs(nodes),
    };
    const registry = new PeerRegistry({ protocol: "connect" });
    let frozen = false;
    try {
      for (const n of nodes) await Deno.mkdir(n.dir);
      boot.proc = await startBcn([
        ...bootstrapArgs(boot.addr, {
          password: PASS,
          balance: 1000n,
          dir: boot.dir,
        }),
        "--period",
        `${PERIOD_MS}ms`,
      ]);
      await boot.proc.waitFor(`<=> gRPC ${boot.addr}\n`);
      regular.proc = await startBcn([
        "node",
        "start",
        "--node",
        regular.addr,
        "--seed",
        boot.addr,
        "--keystore",
        join(regular.dir, "keystore"),
        "--blockstore",
        join(regular.dir, "blockstore"),
        "--period",
        `${PERIOD_MS}ms`,
      ]);
      await regular.proc.waitFor(`<=> gRPC ${regular.addr}\n`);
      await poll("the regular node is ok with its authority", async () => {
        const h = await get(regular, "/healthz");
        return h.status === 200 && h.body === "ok\n";
      }, options);

      const genesis = decodeSigGenesis(
        await Deno.readFile(join(boot.dir, "blockstore", "genesis.json")),
      );
      const [owner] = genesis.balances.keys();
      const account = await readKey(join(boot.dir, "keystore"), owner, PASS);
      const tx = new TextEncoder().encode(encodeSigTx(account.signTx({
        from: owner,
        to: owner,
        value: 1n,
        nonce: 1n,
        time: timeNow(),
      })));

      boot.proc.signal("SIGSTOP");
      frozen = true;
      await registry.clients(regular.addr).tx.txSend({ Tx: tx });
      const sick = await poll(
        "the regular node says the chain is stalled or the authority unreachable",
        async () => {
          const h = await get(regular, "/healthz");
          return h.status === 503 &&
              /^(stalled: |authority unreachable )/.test(h.body)
            ? h
            : undefined;
        },
        options,
      );
      assert(!sick.body.trimEnd().includes("\n"), "one line");
      console.log(`while its authority is frozen: ${sick.body.trim()}`);
      const during = await statusOf(regular);
      assert(
        during.stalled === true || during.authorityReachable === false,
        JSON.stringify({
          stalled: during.stalled,
          authorityReachable: during.authorityReachable,
        }),
      );
      assert(!during.health.ok, during.health.reason);
      const metrics = (await get(regular, "/metrics")).body;
      assert(
        /\nbcn_chain_stalled 1\n/.test(metrics) ||
          /\nbcn_authority_reachable 0\n/.test(metrics),
        metrics,
      );

      boot.proc.signal("SIGCONT");
      frozen = false;
      // The authority may have it already, from the regular node.
      await registry.clients(boot.addr).tx.txSend({ Tx: tx }).catch(() => {});
      await poll("a block reaches the regular node", async () => {
        return (await statusOf(regular)).lastBlock.number >= 1n;
      }, options);
      await poll("the regular node is ok again", async () => {
        const h = await get(regular, "/healthz");
        return h.status === 200 && h.body === "ok\n";
      }, options);
      const after = await statusOf(regular);
      assert(after.stalled === false, `stalled: ${after.stalled}`);
      assert(after.authorityReachable === true, "authority reachable");
    } catch (e) {
      throw new Error(`${(e as Error).stack}\n${outputs(nodes)}`);
    } finally {
      registry.close();
      // A frozen process would not see SIGTERM.
      if (frozen) boot.proc?.signal("SIGCONT");
      for (const n of nodes) await n.proc?.stop();
    }
  });
});
