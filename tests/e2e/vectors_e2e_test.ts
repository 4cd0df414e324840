/**
 * End-to-end checks of bcn against the reference Go node's own files
 * (`shared/vectors/`, see its README.md): a bcn bootstrap runs on a copy of
 * the reference's key store and block store, signs with every key file,
 * extends the chain, serves it to a fresh bcn node, and proves the
 * reference's transactions exactly as the reference's CLI printed the proofs.
 *
 * Skipped, with a message, when the vectors directory is absent.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import {
  blockHash,
  decodeSigBlock,
  type SigBlock,
  verifyBlock,
} from "../../src/chain/block.ts";
import { decodeSigGenesis } from "../../src/chain/genesis.ts";
import { decodeSigTx, type SigTx, txHash } from "../../src/chain/tx.ts";
import { vectorsDir, vectorsPresent } from "../support.ts";
import {
  type BcnProcess,
  type BcnResult,
  freePort,
  listFiles,
  poll,
  runBcn,
  startBcn,
  withTempDir,
} from "./helpers.ts";

const DIR = vectorsDir();
const present = vectorsPresent("the end-to-end checks on the vectors");
const dec = new TextDecoder();

/** The bound of every poll, and the pause between two polls. */
const DEADLINE_MS = 60_000;
const POLL_MS = 250;

/** An account of the vectors' README table. */
interface VectorAccount {
  role: string;
  address: string;
  password: string;
}

/** A row of the README's proofs table. */
interface VectorProof {
  tx: string;
  block: bigint;
  /** The first hex digits of the block's hash. */
  blockPrefix: string;
  root: string;
}

function readme(): string {
  return Deno.readTextFileSync(join(DIR, "README.md"));
}

/** The accounts table; each password read from `<address>.password`. */
function accounts(): VectorAccount[] {
  const rows = [
    ...readme().matchAll(
      /^\| ([a-z]+)[^|]* \| ([0-9a-f]{64}) \| `([^`]+)` \|$/gm,
    ),
  ];
  return rows.map(([, role, address, readmePass]) => {
    const password = Deno.readTextFileSync(
      join(DIR, "keystore", `${address}.password`),
    );
    assertEquals(password, readmePass, `password of ${role}`);
    return { role, address, password };
  });
}

/** The proofs table: tx hash, block number, Merkle root. */
function proofs(): VectorProof[] {
  const rows = [
    ...readme().matchAll(
      /^\| ([0-9a-f]{64}) \| (\d+) \(([0-9a-f]+)\.\.\.\) \| ([0-9a-f]{64}) \|/gm,
    ),
  ];
  return rows.map(([, tx, block, blockPrefix, root]) => ({
    tx,
    block: BigInt(block),
    blockPrefix,
    root,
  }));
}

/** Final balances as the README states them, by role. */
function finalBalances(): Map<string, bigint> {
  // "Final balances: owner 643, alice 141, ... (sum 1000)."
  const line = readme().match(/^Final balances: ([^(]*)/m);
  assert(line, "README: no final balances line");
  return new Map(
    [...line[1].matchAll(/([a-z]+) (\d+)/g)].map(([, r, b]) => [r, BigInt(b)]),
  );
}

/**
 * Copies a vectors directory as a node would have written it: directory
 * 0700, files 0600 (the vectors themselves are read-only), only the names
 * `keep` accepts.
 */
async function copyStore(
  from: string,
  to: string,
  keep: (name: string) => boolean,
): Promise<void> {
  await Deno.mkdir(to, { recursive: true, mode: 0o700 });
  for await (const e of Deno.readDir(from)) {
    if (!e.isFile || !keep(e.name)) continue;
    await Deno.writeFile(
      join(to, e.name),
      await Deno.readFile(join(from, e.name)),
      {
        mode: 0o600,
      },
    );
  }
}

/** Every file under `dir` with its bytes. */
async function snapshot(dir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const rel of await listFiles(dir)) {
    out.set(rel, await Deno.readFile(join(dir, rel)));
  }
  return out;
}

function storeBlocks(bytes: Uint8Array): SigBlock[] {
  const text = dec.decode(bytes);
  assert(text === "" || text.endsWith("\n"), text);
  return text.split("\n").filter((l) => l !== "").map((l) => decodeSigBlock(l));
}

function detail(args: string[], res: BcnResult): string {
  return `bcn ${
    args.join(" ")
  }: exit ${res.code}\n--- stdout\n${res.stdout}--- stderr\n${res.stderr}`;
}

/** Runs a CLI command that must succeed; returns its stdout as printed. */
async function bcn(cwd: string, args: string[], env = {}): Promise<string> {
  const res = await runBcn(args, { cwd, env });
  assertEquals(res.code, 0, detail(args, res));
  return res.stdout;
}

async function stopNode(proc: BcnProcess | undefined): Promise<void> {
  if (!proc) return;
  const res = await proc.stop();
  assertEquals(res.code, 0, res.stderr);
}

Deno.test({
  name:
    "vectors: a bcn bootstrap on the reference's stores goes on from block 6, signs with every key, and serves a byte-identical chain and proofs",
  ignore: !present,
  async fn() {
    const accs = accounts();
    assertEquals(accs.map((a) => a.role), [
      "authority",
      "owner",
      "alice",
      "bob",
      "carol",
    ]);
    const byRole = new Map(accs.map((a) => [a.role, a]));
    const table = proofs();
    assertEquals(table.length, 3, "README: proofs table");
    const balances = finalBalances();
    const vecGenesis = await Deno.readFile(
      join(DIR, "blockstore", "genesis.json"),
    );
    const vecStore = await Deno.readFile(
      join(DIR, "blockstore", "block.store"),
    );
    const vecBlocks = storeBlocks(vecStore);
    assertEquals(vecBlocks.length, 6);
    const genesis = decodeSigGenesis(vecGenesis);
    assertEquals(genesis.authority, byRole.get("authority")!.address);

    await withTempDir(async (tmp) => {
      const bootDir = join(tmp, "boot");
      const regDir = join(tmp, "reg");
      const keyDir = join(bootDir, "keystore");
      const storeDir = join(bootDir, "blockstore");
      // The key files only: the passwords are the test's, not a key store's.
      await copyStore(
        join(DIR, "keystore"),
        keyDir,
        (n) => !n.endsWith(".password"),
      );
      await copyStore(join(DIR, "blockstore"), storeDir, () => true);
      const before = await snapshot(bootDir);
      assertEquals([...before.keys()], [
        "blockstore/block.store",
        "blockstore/genesis.json",
        ...accs.map((a) => `keystore/${a.address}`).sort(),
      ]);
      const assertKeysUnchanged = async () => {
        const keys = await snapshot(keyDir);
        assertEquals([...keys.keys()], accs.map((a) => a.address).sort());
        for (const a of accs) {
          assertEquals(
            keys.get(a.address),
            before.get(`keystore/${a.address}`),
            `key file of ${a.role}`,
          );
        }
      };
      const mtimes = async () =>
        await Promise.all(
          ["block.store", "genesis.json"].map(async (f) =>
            (await Deno.stat(join(storeDir, f))).mtime?.getTime()
          ),
        );
      const mtimesBefore = await mtimes();
      const bootPort = freePort();
      const boot = `127.0.0.1:${bootPort}`;
      let bootProc: BcnProcess | undefined;
      let regProc: BcnProcess | undefined;
      /** Checks each role's balance as `bcn account balance` prints it. */
      const assertBalances = async (want: Map<string, bigint>) => {
        for (const [role, balance] of want) {
          const address = byRole.get(role)!.address;
          assertEquals(
            await bcn(tmp, [
              "account",
              "balance",
              "--node",
              boot,
              "--account",
              address,
            ]),
            `acc ${address}: ${balance}\n`,
          );
        }
      };
      try {
        bootProc = await startBcn([
          "node",
          "start",
          "--node",
          boot,
          "--bootstrap",
          "--authpass",
          byRole.get("authority")!.password,
          "--keystore",
          keyDir,
          "--blockstore",
          storeDir,
          "--period",
          "1s",
        ], { cwd: bootDir });
        const out = await bootProc.waitFor(`<=> gRPC ${boot}\n`);
        // It starts at block 6, the reference's last.
        const b6 = vecBlocks[5];
        assert(
          out.includes(
            `* Last block\nblk       6: ${blockHash(b6).slice(0, 7)} -> ${
              b6.parent.slice(0, 7)
            }\n`,
          ),
          out,
        );
        await assertBalances(balances);

        // Nothing rewritten on start: same files, same bytes, not written,
        // nothing repaired.
        const { stderr } = bootProc.output();
        assert(!stderr.includes("block.store"), stderr);
        assertEquals(await snapshot(bootDir), before);
        assertEquals(await mtimes(), mtimesBefore);

        // The reference's 16 signed transactions, as its `tx sign` printed
        // them, come back from bcn's search byte for byte (then the block).
        const searched: string[] = [];
        for (const role of ["owner", "alice", "bob", "carol"]) {
          const text = await bcn(tmp, [
            "tx",
            "search",
            "--node",
            boot,
            "--from",
            byRole.get(role)!.address,
            "--json",
          ]);
          searched.push(...text.split("\n").filter((l) => l !== ""));
        }
        const vecTxs = (await Deno.readTextFile(
          join(DIR, "txs", "signed_txs.jsonl"),
        )).split("\n").filter((l) => l !== "");
        assertEquals(vecTxs.length, 16);
        assertEquals(searched.length, 16, searched.join("\n"));
        for (const line of vecTxs) {
          const prefix = `${line.slice(0, -1)},"blockNumber":`;
          assert(searched.some((l) => l.startsWith(prefix)), line);
        }

        // Every key file signs: a ring of transfers through every account,
        // the authority's first (it holds nothing yet).
        const ring: [string, string, bigint][] = [
          ["owner", "authority", 5n],
          ["authority", "alice", 2n],
          ["alice", "bob", 3n],
          ["bob", "carol", 4n],
          ["carol", "owner", 5n],
        ];
        const signed: SigTx[] = [];
        for (const [from, to, value] of ring) {
          const a = byRole.get(from)!;
          const text = await bcn(tmp, [
            "tx",
            "sign",
            "--node",
            boot,
            "--from",
            a.address,
            "--to",
            byRole.get(to)!.address,
            "--value",
            String(value),
            "--ownerpass",
            a.password,
          ]);
          const tx = decodeSigTx(text.trim());
          assertEquals(
            [tx.from, tx.to, tx.value],
            [a.address, byRole.get(to)!.address, value],
          );
          signed.push(tx);
          // Sent right away, so that the next sender's pending balance and
          // nonce include it (the authority's 5 before it sends 2).
          assertEquals(
            await bcn(tmp, [
              "tx",
              "send",
              "--node",
              boot,
              "--sigtx",
              text.trim(),
            ]),
            `tx ${txHash(tx)}\n`,
          );
        }
        // Signing wrote nothing; the store only grows by new blocks.
        const storePath = join(storeDir, "block.store");
        const now = await Deno.readFile(storePath);
        assertEquals(now.slice(0, vecStore.length), vecStore);
        await assertKeysUnchanged();

        // The transfers are confirmed in block 7 (and 8, if a proposal fell
        // between two sends), on top of the reference's block 6.
        const hashes = signed.map(txHash);
        const blocks = await poll(
          "the 5 transfers confirmed",
          async () => {
            const bs = storeBlocks(await Deno.readFile(storePath));
            const done = new Set(bs.flatMap((b) => b.txs.map(txHash)));
            return hashes.every((h) => done.has(h)) ? bs : undefined;
          },
          {
            describe: () => JSON.stringify(bootProc!.output()),
            timeoutMs: DEADLINE_MS,
            intervalMs: POLL_MS,
          },
        );
        const bytes = await Deno.readFile(storePath);
        assertEquals(bytes.slice(0, vecStore.length), vecStore);
        assertEquals(
          await Deno.readFile(join(storeDir, "genesis.json")),
          vecGenesis,
        );
        assert(blocks.length >= 7 && blocks.length <= 11, `${blocks.length}`);
        assertEquals(blocks[6].number, 7n);
        assertEquals(blocks[6].parent, blockHash(b6));
        for (const b of blocks.slice(6)) {
          assert(verifyBlock(b, genesis.authority));
        }
        assertEquals(
          blocks.slice(6).flatMap((b) => b.txs.map(txHash)),
          hashes,
        );
        const expected = new Map(balances);
        expected.set("authority", 0n);
        for (const [from, to, value] of ring) {
          expected.set(from, expected.get(from)! - value);
          expected.set(to, expected.get(to)! + value);
        }
        await assertBalances(expected);

        // A fresh bcn node syncs a byte-identical store.
        const regPort = freePort();
        const reg = `127.0.0.1:${regPort}`;
        regProc = await startBcn([
          "node",
          "start",
          "--node",
          reg,
          "--seed",
          boot,
          "--keystore",
          join(regDir, "keystore"),
          "--blockstore",
          join(regDir, "blockstore"),
        ], { cwd: tmp });
        await regProc.waitFor(`<=> gRPC ${reg}\n`);
        await poll(
          "the fresh node's store equal to the bootstrap's",
          async () => {
            const mine = await Deno.readFile(
              join(regDir, "blockstore", "block.store"),
            ).catch(() => new Uint8Array());
            return dec.decode(mine) === dec.decode(bytes) ? true : undefined;
          },
          {
            describe: () => JSON.stringify(regProc!.output()),
            timeoutMs: DEADLINE_MS,
            intervalMs: POLL_MS,
          },
        );
        assertEquals(
          await Deno.readFile(join(regDir, "blockstore", "block.store")),
          bytes,
        );
        assertEquals(
          await Deno.readFile(join(regDir, "blockstore", "genesis.json")),
          vecGenesis,
        );

        // tx prove prints exactly the reference's proof files, on either
        // node; tx verify accepts each against the README's root and
        // refuses a changed root.
        for (const p of table) {
          const file = dec.decode(
            await Deno.readFile(join(DIR, "proofs", `tx_prove_${p.tx}.json`)),
          );
          const block = blocks[Number(p.block) - 1];
          assertEquals(block.merkleRoot, p.root, `block ${p.block}'s root`);
          assert(blockHash(block).startsWith(p.blockPrefix), p.blockPrefix);
          assert(block.txs.some((t) => txHash(t) === p.tx), p.tx);
          for (const node of [boot, reg]) {
            const printed = await bcn(tmp, [
              "tx",
              "prove",
              "--node",
              node,
              "--hash",
              p.tx,
            ]);
            assertEquals(printed, file, `tx prove ${p.tx} on ${node}`);
          }
          const verify = (root: string) =>
            bcn(tmp, [
              "tx",
              "verify",
              "--node",
              reg,
              "--hash",
              p.tx,
              "--mrkproof",
              file,
              "--mrkroot",
              root,
            ]);
          assertEquals(await verify(p.root), `tx ${p.tx} valid\n`);
          const changed = (p.root[0] === "0" ? "1" : "0") + p.root.slice(1);
          assertEquals(await verify(changed), `tx ${p.tx} INVALID\n`);
        }
      } finally {
        await stopNode(regProc);
        await stopNode(bootProc);
      }
      // The key store is still the reference's, file for file.
      await assertKeysUnchanged();
    });
  },
});
