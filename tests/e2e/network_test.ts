/**
 * End-to-end test of a small network: a bootstrap node and two regular nodes
 * seeded from it, as real `bcn` processes on loopback ports with their own
 * stores. Peer discovery, transfers sent through every node, relays of
 * transactions and blocks, subscriptions, a node stopped and restarted, and
 * Merkle proofs across nodes, all through the CLI.
 *
 * Every wait is a poll with a deadline; nothing depends on a fixed sleep.
 *
 * Nonces: `tx sign` takes the sender's pending nonce on the node it asks, so
 * each transfer is signed on the node it is sent to, and only once that
 * node's pending state holds the previous transfer (which it gets by relay):
 * the signing is repeated until the signed nonce is the expected one. A
 * signed but unsent transaction changes nothing, so the repeat is harmless,
 * and no two different transactions with the same nonce are ever sent. The
 * owner's key file is copied into every node's key store so that every node
 * can sign for the owner.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import {
  blockLeaves,
  decodeSigBlock,
  type SigBlock,
} from "../../src/chain/block.ts";
import { blockEvent, txEvent } from "../../src/chain/event.ts";
import { encodeNodeEvent, nodeEventOf } from "../../src/client/client.ts";
import { decodeSigGenesis } from "../../src/chain/genesis.ts";
import { decodeMerkleProof, merkleProve } from "../../src/chain/merkle.ts";
import { decodeSearchTx } from "../../src/chain/search_tx.ts";
import { decodeSigTx, type SigTx, txHash } from "../../src/chain/tx.ts";
import { listKeys } from "../../src/store/key_store.ts";
import {
  type BcnProcess,
  type BcnResult,
  poll,
  runBcn,
  stablePort,
  startBcn,
  withTempDir,
} from "./helpers.ts";

const PASS = "password";
const PERIOD = "300ms";
const INITIAL = 1_000_000n;

/** One node of the network. */
interface NetNode {
  /** For messages: N1, N2, N3. */
  name: string;
  /** `127.0.0.1:port`. */
  addr: string;
  /** The node's own directory (its cwd, holding its stores). */
  dir: string;
  /** The `bcn node start` arguments. */
  args: string[];
  /** The running process. */
  proc?: BcnProcess;
}

/** One transfer sent by the test. */
interface Transfer {
  tx: SigTx;
  hash: string;
  via: string;
}

function detail(args: string[], res: BcnResult): string {
  return `bcn ${
    args.join(" ")
  }: exit ${res.code}\n--- stdout\n${res.stdout}--- stderr\n${res.stderr}`;
}

/** Runs a CLI command that must succeed; returns its stdout, trimmed. */
async function bcn(cwd: string, args: string[]): Promise<string> {
  const res = await runBcn(args, { cwd });
  assertEquals(res.code, 0, detail(args, res));
  assertEquals(res.stderr, "", detail(args, res));
  assertEquals(res.stdout.split("\n").length, 2, detail(args, res)); // one line
  return res.stdout.trim();
}

/** The node's stores and args; the owner key is copied in for regular nodes. */
function nodeArgs(
  port: number,
  dir: string,
  seed: number | undefined,
): string[] {
  return [
    "node",
    "start",
    "--node",
    `127.0.0.1:${port}`,
    ...(seed === undefined
      ? [
        "--bootstrap",
        "--authpass",
        PASS,
        "--ownerpass",
        PASS,
        "--balance",
        String(INITIAL),
      ]
      : ["--seed", `127.0.0.1:${seed}`]),
    "--keystore",
    join(dir, "keystore"),
    "--blockstore",
    join(dir, "blockstore"),
    "--period",
    PERIOD,
  ];
}

async function startNode(node: NetNode): Promise<void> {
  node.proc = await startBcn(node.args, { cwd: node.dir });
  await node.proc.waitFor(`<=> gRPC ${node.addr}\n`);
}

async function stopNode(node: NetNode): Promise<void> {
  const res = await node.proc!.stop();
  assertEquals(res.code, 0, `${node.name}: ${res.stderr}`);
}

async function readStore(node: NetNode): Promise<Uint8Array> {
  try {
    return await Deno.readFile(join(node.dir, "blockstore", "block.store"));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return new Uint8Array();
    throw e;
  }
}

function storeBlocks(bytes: Uint8Array): SigBlock[] {
  const text = new TextDecoder().decode(bytes);
  assert(text === "" || text.endsWith("\n"), text);
  return text.split("\n").filter((l) => l !== "").map((l) => decodeSigBlock(l));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Whether process `pid` has an established TCP connection to `port`, as
 * `ss` reports it; true when `ss` is not installed (then the subscriber's
 * head start over the first block is the only guarantee: it is started
 * before discovery and account creation, seconds before the first block).
 * Deno cannot read /proc/PID/fd without --allow-all, hence `ss`.
 */
async function connectedTo(pid: number, port: number): Promise<boolean> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("ss", {
      args: ["-Htnp", "state", "established", `( dport = :${port} )`],
      stdin: "null",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return true;
    throw e;
  }
  const text = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  return text.includes(`pid=${pid},`);
}

/** Starts `node subscribe ARGS` and waits until it is connected to `port`. */
async function startSubscriber(
  cwd: string,
  args: string[],
  port: number,
): Promise<BcnProcess> {
  const sub = await startBcn(["node", "subscribe", ...args], { cwd });
  try {
    await poll(
      `subscriber ${args.join(" ")} connected`,
      async () => (await connectedTo(sub.pid, port)) || undefined,
      { describe: () => JSON.stringify(sub.output()), timeoutMs: 10_000 },
    );
  } catch (e) {
    await sub.stop();
    throw e;
  }
  return sub;
}

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l !== "");
}

Deno.test("three nodes discover each other, relay transfers and blocks, agree, and a restarted node catches up", async () => {
  await withTempDir(async (tmp) => {
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) ports.push(stablePort(ports));
    const nodes: NetNode[] = ports.map((port, i) => {
      const dir = join(tmp, `n${i + 1}`);
      return {
        name: `N${i + 1}`,
        addr: `127.0.0.1:${port}`,
        dir,
        args: nodeArgs(port, dir, i === 0 ? undefined : ports[0]),
      };
    });
    const [n1, n2, n3] = nodes;
    for (const n of nodes) await Deno.mkdir(n.dir);
    const subscribers: BcnProcess[] = [];
    const run = (args: string[]) => bcn(tmp, args);

    try {
      // ---------------------------------------------------------- start
      await startNode(n1);
      const genesis = decodeSigGenesis(
        await Deno.readFile(join(n1.dir, "blockstore", "genesis.json")),
      );
      assertEquals(genesis.balances.size, 1);
      const [[owner, initial]] = [...genesis.balances];
      assertEquals(initial, INITIAL);
      const bootKeys = await listKeys(join(n1.dir, "keystore"));
      assertEquals(bootKeys.sort(), [owner, genesis.authority].sort());
      // Every node can sign for the owner (same encrypted key file).
      for (const n of [n2, n3]) {
        const dir = join(n.dir, "keystore");
        await Deno.mkdir(dir, { mode: 0o700 });
        await Deno.copyFile(join(n1.dir, "keystore", owner), join(dir, owner));
        await Deno.chmod(join(dir, owner), 0o600);
      }
      await Promise.all([startNode(n2), startNode(n3)]);

      // ----------------------------------------------- 2. subscribers
      // Started first, so they see every block: N3 in JSON (all events),
      // N2 in text (transactions only).
      const subJson = await startSubscriber(
        tmp,
        ["--node", n3.addr, "--json"],
        ports[2],
      );
      subscribers.push(subJson);
      const subText = await startSubscriber(
        tmp,
        ["--node", n2.addr, "--events", "tx"],
        ports[1],
      );
      subscribers.push(subText);

      // -------------------------------------------------- 1. discovery
      // Each node logs `peer ADDR joined` once ADDR answered it.
      for (const n of nodes) {
        const others = nodes.filter((o) => o !== n);
        await poll(
          `${n.name} discovers ${others.map((o) => o.name).join(", ")}`,
          () =>
            Promise.resolve(
              others.every((o) =>
                  n.proc!.output().stderr.includes(`peer ${o.addr} joined\n`)
                )
                ? true
                : undefined,
            ),
          { describe: () => n.proc!.output().stderr },
        );
      }

      // -------------------------------------------------- 3. accounts
      const bobLine = await run([
        "account",
        "create",
        "--node",
        n2.addr,
        "--ownerpass",
        PASS,
      ]);
      const bobMatch = /^acc ([0-9a-f]{64})$/.exec(bobLine);
      assert(bobMatch, bobLine);
      const bob = bobMatch[1];
      const carolJson = JSON.parse(
        await run([
          "account",
          "create",
          "--node",
          n3.addr,
          "--ownerpass",
          PASS,
          "--json",
        ]),
      );
      assertEquals(Object.keys(carolJson), ["address"]);
      const carol: string = carolJson.address;
      assert(/^[0-9a-f]{64}$/.test(carol), carol);
      assertEquals(
        await listKeys(join(n2.dir, "keystore")),
        [bob, owner].sort(),
      );
      assertEquals(
        await listKeys(join(n3.dir, "keystore")),
        [carol, owner].sort(),
      );

      // ------------------------------------------------- 4. transfers
      const transfers: Transfer[] = [];
      const expected = new Map<string, bigint>([
        [owner, INITIAL],
        [bob, 0n],
        [carol, 0n],
      ]);
      const transfer = async (via: NetNode, to: string, value: bigint) => {
        const nonce = BigInt(transfers.length + 1);
        const signArgs = [
          "tx",
          "sign",
          "--node",
          via.addr,
          "--from",
          owner,
          "--to",
          to,
          "--value",
          String(value),
          "--ownerpass",
          PASS,
        ];
        let last = "";
        // Until `via` holds the previous transfer in its pending state.
        const signed = await poll(
          `transfer ${nonce} signed on ${via.name} with nonce ${nonce}`,
          async () => {
            last = await run(signArgs);
            const tx = decodeSigTx(last);
            assert(tx.nonce <= nonce, `nonce ahead: ${last}`);
            return tx.nonce === nonce ? last : undefined;
          },
          { describe: () => last },
        );
        const tx = decodeSigTx(signed);
        assertEquals(
          [tx.from, tx.to, tx.value, tx.nonce],
          [owner, to, value, nonce],
        );
        const hash = txHash(tx);
        // Every other transfer is sent with --json.
        const json = transfers.length % 2 === 1;
        const sent = await run([
          "tx",
          "send",
          "--node",
          via.addr,
          "--sigtx",
          signed,
          ...(json ? ["--json"] : []),
        ]);
        if (json) assertEquals(JSON.parse(sent), { hash });
        else assertEquals(sent, `tx ${hash}`);
        transfers.push({ tx, hash, via: via.name });
        expected.set(owner, expected.get(owner)! - value);
        expected.set(to, expected.get(to)! + value);
      };

      const tStart = Date.now();
      for (let i = 0; i < 20; i++) {
        await transfer(
          nodes[i % 3],
          i % 2 === 0 ? bob : carol,
          BigInt(10 + 7 * i + (i % 4) * 100),
        );
      }
      const tSent = Date.now();

      // ---------------------------------------------- 5. convergence
      const balanceOf = async (n: NetNode, account: string) => {
        const res = await runBcn([
          "account",
          "balance",
          "--node",
          n.addr,
          "--account",
          account,
          "--json",
        ], { cwd: tmp });
        if (res.code !== 0) return undefined; // no balance yet
        const v = JSON.parse(res.stdout);
        assertEquals(Object.keys(v), ["address", "balance"]);
        assertEquals(v.address, account);
        return BigInt(v.balance);
      };
      const balancesAgree = async (n: NetNode) => {
        for (const [account, value] of expected) {
          if (await balanceOf(n, account) !== value) return false;
        }
        return true;
      };
      /** Waits until `group` hold the expected balances and one block store. */
      const converge = async (group: NetNode[]) => {
        for (const n of group) {
          await poll(
            `${n.name} confirms the expected balances`,
            async () => (await balancesAgree(n)) || undefined,
            {
              describe: () =>
                `expected ${
                  JSON.stringify([...expected].map(([a, v]) => [a, String(v)]))
                }\n${n.proc!.output().stderr}`,
            },
          );
        }
        let last: Uint8Array[] = [];
        const bytes = await poll(
          `${group.map((n) => n.name).join(", ")} hold the same block store`,
          async () => {
            last = await Promise.all(group.map(readStore));
            return last.every((b) => sameBytes(b, last[0]))
              ? last[0]
              : undefined;
          },
          {
            describe: () =>
              last.map((b) => new TextDecoder().decode(b)).join("\n---\n"),
          },
        );
        const blocks = storeBlocks(bytes);
        const hashes = blocks.flatMap((b) => b.txs.map(txHash));
        assertEquals(hashes.sort(), transfers.map((t) => t.hash).sort());
        // Every node answers the same last block, and none after it.
        const k = blocks.length;
        const storeLines = lines(new TextDecoder().decode(bytes));
        for (const n of group) {
          const found = await run([
            "block",
            "search",
            "--node",
            n.addr,
            "--number",
            String(k),
            "--json",
          ]);
          assertEquals(found, storeLines[k - 1]);
          const none = await runBcn([
            "block",
            "search",
            "--node",
            n.addr,
            "--number",
            String(k + 1),
          ], { cwd: tmp });
          assertEquals(none.code, 1, none.stdout);
        }
        return blocks;
      };
      let blocks = await converge(nodes);
      const tConverged = Date.now();
      assertEquals(
        expected.get(bob)! + expected.get(carol)!,
        INITIAL - expected.get(owner)!,
      );
      // The text balance agrees with the JSON one.
      assertEquals(
        await run(["account", "balance", "--node", n3.addr, "--account", bob]),
        `acc ${bob}: ${expected.get(bob)}`,
      );

      // ------------------------------------------------ 6. subscribers
      // One JSON a line with a named type and the decoded tx or block.
      const expectedEvents = blocks.flatMap((b) => [
        encodeNodeEvent(nodeEventOf(blockEvent(b))),
        ...b.txs.map((tx) => encodeNodeEvent(nodeEventOf(txEvent(tx)))),
      ]);
      await poll(
        "the JSON subscriber got every event",
        () =>
          Promise.resolve(
            lines(subJson.output().stdout).length >= expectedEvents.length
              ? true
              : undefined,
          ),
        { describe: () => JSON.stringify(subJson.output()) },
      );
      const jsonRes = await subJson.stop();
      assertEquals(jsonRes.code, 0, jsonRes.stderr);
      assertEquals(jsonRes.stderr, "");
      const got = lines(jsonRes.stdout);
      assertEquals(got, expectedEvents);
      const txEvents = got.filter((l) => l.startsWith('{"type":"tx",'));
      assertEquals(
        txEvents.map((l) =>
          txHash(decodeSigTx(l.slice(l.indexOf(',"tx":') + 6, -1)))
        ).sort(),
        transfers.map((t) => t.hash).sort(),
      );
      const textExpected = blocks.flatMap((b) =>
        b.txs.map((tx) =>
          `tx validated ${txHash(tx).slice(0, 7)}: ${owner.slice(0, 7)} -> ${
            tx.to.slice(0, 7)
          } ${tx.value}`
        )
      );
      await poll(
        "the text subscriber got every transaction",
        () =>
          Promise.resolve(
            lines(subText.output().stdout).length >= textExpected.length
              ? true
              : undefined,
          ),
        { describe: () => JSON.stringify(subText.output()) },
      );
      const textRes = await subText.stop("SIGINT");
      assertEquals(textRes.code, 0, textRes.stderr);
      assertEquals(lines(textRes.stdout), textExpected);

      // ------------------------------------------ 7. stop and restart
      await stopNode(n3);
      for (let i = 0; i < 5; i++) {
        await transfer(
          [n1, n2][i % 2],
          i % 2 === 0 ? carol : bob,
          BigInt(1000 + 11 * i),
        );
      }
      await converge([n1, n2]);
      const n3Before = await readStore(n3);
      assert(n3Before.length < (await readStore(n1)).length);
      await startNode(n3);
      blocks = await converge(nodes);
      const tRestarted = Date.now();

      // -------------------------------------------- 8. proofs, search
      // The transfer in the fullest block, for a proof with several steps.
      const fullest = blocks.reduce((a, b) =>
        b.txs.length > a.txs.length ? b : a
      );
      const provenTx = fullest.txs[fullest.txs.length - 1];
      const hash = txHash(provenTx);
      const searchText = await run([
        "tx",
        "search",
        "--node",
        n2.addr,
        "--hash",
        hash.slice(0, 12),
      ]);
      const fullestHash = /"blockHash":"([0-9a-f]{64})"/.exec(
        await run([
          "tx",
          "search",
          "--node",
          n1.addr,
          "--hash",
          hash,
          "--json",
        ]),
      )?.[1];
      assert(fullestHash);
      assertEquals(
        searchText,
        `tx ${hash}: ${owner.slice(0, 7)} -> ${
          provenTx.to.slice(0, 7)
        } ${provenTx.value} nonce ${provenTx.nonce} blk ${fullest.number} ${
          fullestHash.slice(0, 7)
        }`,
      );
      const found = decodeSearchTx(
        await run([
          "tx",
          "search",
          "--node",
          n3.addr,
          "--hash",
          hash,
          "--json",
        ]),
      );
      assertEquals(txHash(found), hash);
      assertEquals(found.blockNumber, fullest.number);
      assertEquals(found.blockHash, fullestHash);
      assertEquals(found.merkleRoot, fullest.merkleRoot);

      const proof = await run([
        "tx",
        "prove",
        "--node",
        n1.addr,
        "--hash",
        hash,
      ]);
      // The proof the library makes for that block.
      assertEquals(
        decodeMerkleProof(proof),
        merkleProve(blockLeaves(fullest), fullest.txs.indexOf(provenTx)),
      );
      const blockJson = await run([
        "block",
        "search",
        "--node",
        n2.addr,
        "--number",
        String(fullest.number),
        "--json",
      ]);
      const root = decodeSigBlock(blockJson).merkleRoot;
      assertEquals(root, fullest.merkleRoot);
      const verify = (r: string, json: boolean) =>
        run([
          "tx",
          "verify",
          "--node",
          n2.addr,
          "--hash",
          hash,
          "--mrkproof",
          proof,
          "--mrkroot",
          r,
          ...(json ? ["--json"] : []),
        ]);
      const tampered = (root[0] === "0" ? "1" : "0") + root.slice(1);
      assertEquals(await verify(root, false), `tx ${hash} valid`);
      assertEquals(await verify(tampered, false), `tx ${hash} INVALID`);
      assertEquals(JSON.parse(await verify(root, true)), {
        hash,
        valid: true,
      });
      assertEquals(JSON.parse(await verify(tampered, true)), {
        hash,
        valid: false,
      });

      // ------------------------------------------------------ the end
      for (const n of nodes) await stopNode(n);
      console.log(
        `20 transfers sent in ${tSent - tStart} ms, converged after ${
          tConverged - tSent
        } ms; ${blocks.length} blocks; restart caught up by ${
          tRestarted - tConverged
        } ms`,
      );
    } catch (e) {
      // Every process's output, to tell what went wrong where.
      const outputs = [
        ...nodes.map((n) => [n.name, n.proc?.output()] as const),
        ...subscribers.map((s, i) =>
          [`subscriber ${i + 1}`, s.output()] as const
        ),
      ].map(([name, out]) =>
        `=== ${name}\n--- stdout\n${out?.stdout}--- stderr\n${out?.stderr}`
      );
      throw new Error(`${(e as Error).stack ?? e}\n${outputs.join("\n")}`);
    } finally {
      for (const s of subscribers) await s.stop();
      for (const n of nodes) await n.proc?.stop();
    }
  });
});
