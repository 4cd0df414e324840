/**
 * End-to-end tests of `bcn node start` (seed chapter "Using the node start
 * CLI command", FORMAT.md section 6): real processes from source, real
 * ports, real stores in temporary directories.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import {
  blockHash,
  decodeSigBlock,
  encodeSigBlock,
  type SigBlock,
} from "../../src/chain/block.ts";
import { decodeSigTx, txHash } from "../../src/chain/tx.ts";
import {
  decodeSigGenesis,
  encodeSigGenesis,
  genesisHash,
  type SigGenesis,
} from "../../src/chain/genesis.ts";
import { State } from "../../src/chain/state.ts";
import { Block } from "../../src/rpc/gen/block_pb.ts";
import { startServer } from "../../src/rpc/server.ts";
import { BlockStore } from "../../src/store/block_store.ts";
import { listKeys, writeKey } from "../../src/store/key_store.ts";
import {
  type BcnResult,
  confirmedSection,
  exists,
  freePort,
  listFiles,
  poll,
  printedState,
  runBcn,
  startBcn,
  withTempDir,
} from "./helpers.ts";

const PASS = "password";

/** The gRPC line a node prints once it serves. */
function served(port: number): string {
  return `<=> gRPC 127.0.0.1:${port}\n`;
}

/** `blk       N: HASH7 -> PARENT7`, as the state prints the last block. */
function blkLine(block: SigBlock): string {
  return `blk ${String(block.number).padStart(7)}: ${
    blockHash(block).slice(0, 7)
  } -> ${block.parent.slice(0, 7)}`;
}

/** The state the CLI should print after `blocks`, computed by the library. */
function expectedState(genesis: SigGenesis, blocks: readonly SigBlock[]) {
  const state = new State(genesis);
  for (const b of blocks) state.applyBlock(b);
  return `=== Sync state\n${String(state).trimEnd()}\n`;
}

/** Writes a genesis and blocks into a block store directory. */
async function writeStore(
  dir: string,
  genesis: SigGenesis,
  blocks: readonly SigBlock[],
): Promise<void> {
  const store = await BlockStore.open(dir);
  await store.writeGenesis(genesis);
  for (const b of blocks) await store.appendBlock(b);
}

function bootstrapArgs(port: number, dir: string): string[] {
  return [
    "node",
    "start",
    "--node",
    `127.0.0.1:${port}`,
    "--bootstrap",
    "--authpass",
    PASS,
    "--keystore",
    join(dir, "keystore"),
    "--blockstore",
    join(dir, "blockstore"),
  ];
}

function regularArgs(port: number, seed: number, dir: string): string[] {
  return [
    "node",
    "start",
    "--node",
    `127.0.0.1:${port}`,
    "--seed",
    `127.0.0.1:${seed}`,
    "--keystore",
    join(dir, "keystore"),
    "--blockstore",
    join(dir, "blockstore"),
  ];
}

/** Asserts a user error: exit code 1 and one `bcn: ` line on stderr. */
function assertUserError(res: BcnResult, includes: string): void {
  const detail = `stdout: ${res.stdout}\nstderr: ${res.stderr}`;
  assertEquals(res.code, 1, detail);
  assert(res.stderr.startsWith("bcn: "), detail);
  assertEquals(res.stderr.trimEnd().split("\n").length, 1, detail);
  assert(res.stderr.includes(includes), `expected ${includes}\n${detail}`);
  assert(!res.stdout.includes("<=> gRPC"), detail);
}

Deno.test("a regular node syncs a stored chain from the bootstrap node, then only the newer blocks after a restart", async () => {
  const chain = makeChain(8, 2);
  await withTempDir(async (tmp) => {
    const bootDir = join(tmp, "boot");
    const regDir = join(tmp, "reg");
    const bootStore = join(bootDir, "blockstore");
    const regStore = join(regDir, "blockstore");
    await writeStore(bootStore, chain.genesis, chain.blocks.slice(0, 5));
    await writeKey(join(bootDir, "keystore"), chain.authority, PASS);
    const bootPort = freePort();
    const regPort = freePort();

    // First run: the bootstrap serves 5 stored blocks; the regular node
    // fetches the genesis and all 5.
    const boot = await startBcn(bootstrapArgs(bootPort, bootDir), {
      cwd: tmp,
    });
    let firstStore: Uint8Array;
    try {
      const bootOut = await boot.waitFor(served(bootPort));
      assert(
        bootOut.includes(blkLine(chain.blocks[4]) + "\n"),
        `block 5 expected in\n${bootOut}`,
      );
      assertEquals(
        printedState(bootOut),
        expectedState(chain.genesis, chain.blocks.slice(0, 5)),
      );

      const reg = await startBcn(regularArgs(regPort, bootPort, regDir), {
        cwd: tmp,
      });
      try {
        const regOut = await reg.waitFor(served(regPort));
        assert(confirmedSection(regOut) !== undefined, regOut);
        assertEquals(confirmedSection(regOut), confirmedSection(bootOut));
        assertEquals(printedState(regOut), printedState(bootOut));
      } finally {
        const res = await reg.stop();
        assertEquals(res.code, 0, res.stderr);
        assert(!res.stderr.includes("warning"), res.stderr);
      }
      firstStore = await Deno.readFile(join(regStore, "block.store"));
      assertEquals(
        firstStore,
        await Deno.readFile(join(bootStore, "block.store")),
      );
      assertEquals(
        await Deno.readFile(join(regStore, "genesis.json")),
        await Deno.readFile(join(bootStore, "genesis.json")),
      );
    } finally {
      const res = await boot.stop();
      assertEquals(res.code, 0, res.stderr);
    }

    // The bootstrap's store grows by blocks 6..8 while both are down.
    const store = await BlockStore.open(bootStore);
    for (const b of chain.blocks.slice(5)) await store.appendBlock(b);

    // Second run: the regular node replays its 5 blocks and fetches 6..8.
    const boot2 = await startBcn(bootstrapArgs(bootPort, bootDir), {
      cwd: tmp,
    });
    try {
      const bootOut = await boot2.waitFor(served(bootPort));
      assertEquals(
        printedState(bootOut),
        expectedState(chain.genesis, chain.blocks),
      );
      const reg = await startBcn(regularArgs(regPort, bootPort, regDir), {
        cwd: tmp,
      });
      try {
        const regOut = await reg.waitFor(served(regPort));
        assert(
          regOut.includes(blkLine(chain.blocks[7]) + "\n"),
          `block 8 expected in\n${regOut}`,
        );
        assertEquals(printedState(regOut), printedState(bootOut));
      } finally {
        const res = await reg.stop();
        assertEquals(res.code, 0, res.stderr);
      }
      const bootBytes = await Deno.readFile(join(bootStore, "block.store"));
      const regBytes = await Deno.readFile(join(regStore, "block.store"));
      assertEquals(regBytes, bootBytes);
      const lines = new TextDecoder().decode(regBytes).split("\n");
      assertEquals(lines.length, 9); // 8 lines, each ending in "\n"
      assertEquals(lines[8], "");
      // The first 5 lines are the ones written in the first run.
      assertEquals(regBytes.slice(0, firstStore.length), firstStore);
    } finally {
      const res = await boot2.stop();
      assertEquals(res.code, 0, res.stderr);
    }
  });
});

/** Starts a fresh bootstrap, checks its stores and state; returns the state. */
async function freshBootstrap(
  tmp: string,
  args: string[],
  env: Record<string, string>,
): Promise<string> {
  const port = freePort();
  const bcn = await startBcn(
    ["node", "start", "--node", `127.0.0.1:${port}`, "--bootstrap", ...args],
    { cwd: tmp, env },
  );
  let out: string;
  try {
    out = await bcn.waitFor(served(port));
  } finally {
    const res = await bcn.stop();
    assertEquals(res.code, 0, res.stderr);
  }
  // The default store directories are named after the port.
  const keyDir = join(tmp, `.keystore${port}`);
  const blockDir = join(tmp, `.blockstore${port}`);
  const keys = await listKeys(keyDir);
  assertEquals(keys.length, 2);
  assertEquals(await listFiles(keyDir), keys);
  for (const k of keys) {
    assertEquals((await Deno.stat(join(keyDir, k))).mode! & 0o777, 0o600);
  }
  assertEquals(await listFiles(blockDir), ["genesis.json"]);
  const genesisPath = join(blockDir, "genesis.json");
  assertEquals((await Deno.stat(genesisPath)).mode! & 0o777, 0o600);
  assertEquals((await Deno.stat(blockDir)).mode! & 0o777, 0o700);
  const genesis = decodeSigGenesis(await Deno.readFile(genesisPath));
  assertEquals(genesis.chain, "blockchain");
  assertEquals(genesis.balances.size, 1);
  const [[owner, balance]] = [...genesis.balances];
  assertEquals(balance, 1000n);
  assert(keys.includes(owner) && keys.includes(genesis.authority));
  assert(owner !== genesis.authority);

  const acc = `acc ${owner.slice(0, 7)}:${"1000".padStart(28)}${
    "0".padStart(9)
  }`;
  const state = printedState(out);
  assertEquals(
    state,
    `=== Sync state
* Balances and nonces
${acc}
* Last block
blk       0: ${genesisHash(genesis).slice(0, 7)} -> 0000000
* Pending balances and nonces
${acc}
`,
  );

  // Restarted without the owner password and balance: the same state.
  const again = await startBcn(
    ["node", "start", "--node", `127.0.0.1:${port}`, "--bootstrap"].concat(
      args.includes("--authpass") ? ["--authpass", PASS] : [],
    ),
    { cwd: tmp, env: env.BCN_AUTHPASS ? { BCN_AUTHPASS: PASS } : {} },
  );
  try {
    assertEquals(printedState(await again.waitFor(served(port))), state);
  } finally {
    // SIGINT stops a node as cleanly as SIGTERM.
    const res = await again.stop("SIGINT");
    assertEquals(res.code, 0, res.stderr);
  }
  assertEquals(await listKeys(keyDir), keys);
  assertEquals(
    decodeSigGenesis(await Deno.readFile(genesisPath)).sig,
    genesis.sig,
  );
  return state!;
}

Deno.test("a fresh bootstrap node creates its key and block stores; a restart prints the same state", async () => {
  await withTempDir((tmp) =>
    freshBootstrap(tmp, [
      "--authpass",
      PASS,
      "--ownerpass",
      PASS,
      "--balance",
      "1000",
    ], {})
  );
});

Deno.test("a fresh bootstrap node takes its passwords from BCN_AUTHPASS and BCN_OWNERPASS", async () => {
  await withTempDir((tmp) =>
    freshBootstrap(tmp, ["--balance", "1000"], {
      BCN_AUTHPASS: PASS,
      BCN_OWNERPASS: PASS,
    })
  );
});

Deno.test("bad flags: exit 1 with one line on stderr and nothing written", async () => {
  await withTempDir(async (tmp) => {
    const port = freePort();
    const node = ["--node", `127.0.0.1:${port}`];
    const start = ["node", "start"];
    const cases: [string[], string][] = [
      [
        [...node, "--bootstrap", "--authpass", "abc", "--ownerpass", PASS],
        "at least 5 bytes",
      ],
      [
        [...node, "--bootstrap", "--ownerpass", PASS, "--balance", "1000"],
        "missing --authpass: the first start of a bootstrap node",
      ],
      [
        [...node, "--bootstrap", "--authpass", PASS, "--ownerpass", "abcd"],
        "at least 5 bytes",
      ],
      [
        [
          ...node,
          "--bootstrap",
          "--authpass",
          PASS,
          "--ownerpass",
          PASS,
          "--balance",
          "0",
        ],
        "positive",
      ],
      [
        [...node, "--bootstrap", "--authpass", PASS, "--ownerpass", PASS],
        "missing --balance: the first start of a bootstrap node",
      ],
      [
        [...node, "--bootstrap", "--authpass", PASS, "--balance", "-5"],
        "--balance",
      ],
      [["--bootstrap", "--authpass", PASS], "missing --node"],
      [[...node, "--bootstrap", "--seed", "127.0.0.1:1"], "--seed"],
      [[...node], "--bootstrap"],
      [[...node, "--bootstrap", "--bogus"], "unknown flag --bogus"],
      [["--node", "nonsense", "--bootstrap"], "--node"],
      [[...node, "--seed", "nonsense"], "--seed"],
      [[...node, "--bootstrap", "--period", "forever"], "--period"],
    ];
    // Each case in its own directory, all at once.
    const results = await Promise.all(cases.map(async ([args], i) => {
      const cwd = join(tmp, String(i));
      await Deno.mkdir(cwd);
      return await runBcn([...start, ...args], { cwd });
    }));
    for (const [i, res] of results.entries()) {
      const [args, includes] = cases[i];
      try {
        assertUserError(res, includes);
        // No key files and no genesis.json (an empty store directory may
        // be left behind).
        assertEquals(await listFiles(join(tmp, String(i))), []);
      } catch (e) {
        throw new Error(`bcn node start ${args.join(" ")}: ${e}`);
      }
    }
  });
});

Deno.test("an initialized bootstrap node refuses a wrong or missing authority key", async () => {
  const chain = makeChain(1, 1);
  await withTempDir(async (tmp) => {
    await writeStore(join(tmp, "blockstore"), chain.genesis, chain.blocks);
    const keyDir = join(tmp, "keystore");
    const args = bootstrapArgs(freePort(), tmp);
    // No key file for the genesis authority.
    assertUserError(await runBcn(args, { cwd: tmp }), "no key for account");
    await writeKey(keyDir, chain.authority, "another password");
    assertUserError(await runBcn(args, { cwd: tmp }), "wrong password");
    assertEquals(await listFiles(tmp), [
      "blockstore/block.store",
      "blockstore/genesis.json",
      `keystore/${chain.authority.address}`,
    ]);
  });
});

Deno.test("a regular node whose seed cannot be reached tries again until stopped, writing nothing", async () => {
  await withTempDir(async (tmp) => {
    const seed = `127.0.0.1:${freePort()}`;
    const bcn = await startBcn(
      ["node", "start", "--node", `127.0.0.1:${freePort()}`, "--seed", seed],
      { cwd: tmp },
    );
    try {
      // Two tries (0.5 s apart), each on a line naming the seed.
      await poll("two retry lines", () => {
        const lines = bcn.output().stderr.split("\n").filter((l) =>
          l.startsWith(
            `seed ${seed} unreachable (connection refused); retrying in `,
          )
        );
        return lines.length >= 2 ? true : undefined;
      }, { describe: () => bcn.output().stderr });
    } finally {
      const res = await bcn.stop();
      assertEquals(res.code, 0, res.stderr);
      assert(!res.stderr.includes("bcn: "), res.stderr);
    }
    assertEquals(await listFiles(tmp), []);
  });
});

Deno.test("a regular node refuses a seed's genesis that does not verify and writes nothing", async () => {
  const { genesis } = makeChain(0, 1);
  const tampered = new TextEncoder().encode(
    encodeSigGenesis({ ...genesis, chain: "tampered" }),
  );
  let reply = tampered;
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    routes: (router) => {
      router.service(Block, { genesisSync: () => ({ Genesis: reply }) });
    },
  });
  try {
    await withTempDir(async (tmp) => {
      const run = async (includes: string) => {
        const res = await runBcn([
          "node",
          "start",
          "--node",
          `127.0.0.1:${freePort()}`,
          "--seed",
          server.addr,
        ], { cwd: tmp });
        assertUserError(res, includes);
        assertEquals(await listFiles(tmp), []);
      };
      await run(`invalid genesis signature from ${server.addr}`);
      reply = new TextEncoder().encode("{not json");
      await run(`invalid genesis from ${server.addr}`);
    });
  } finally {
    await server.close();
  }
});

Deno.test("a regular node whose block store holds another chain exits 1", async () => {
  const chain = makeChain(1, 1);
  const other = makeChain(0, 1);
  await withTempDir(async (tmp) => {
    const bootDir = join(tmp, "boot");
    const regDir = join(tmp, "reg");
    await writeStore(join(bootDir, "blockstore"), chain.genesis, chain.blocks);
    await writeKey(join(bootDir, "keystore"), chain.authority, PASS);
    await writeStore(join(regDir, "blockstore"), other.genesis, []);
    const before = await listFiles(regDir);
    const bootPort = freePort();
    const boot = await startBcn(bootstrapArgs(bootPort, bootDir), {
      cwd: tmp,
    });
    try {
      await boot.waitFor(served(bootPort));
      const res = await runBcn(
        regularArgs(freePort(), bootPort, regDir),
        { cwd: tmp },
      );
      assertUserError(res, "another chain");
      assertEquals(await listFiles(regDir), before);
      assertEquals(
        await Deno.readTextFile(join(regDir, "blockstore", "genesis.json")),
        encodeSigGenesis(other.genesis),
      );
    } finally {
      const res = await boot.stop();
      assertEquals(res.code, 0, res.stderr);
    }
    assert(!await exists(join(regDir, "blockstore", "block.store")));
  });
});

Deno.test("bcn --help, --version, node start --help and an unknown command", async () => {
  const { version } = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  );
  await withTempDir(async (cwd) => {
    const [help, startHelp, ver, bad, badNode] = await Promise.all([
      runBcn(["--help"], { cwd }),
      runBcn(["node", "start", "--help"], { cwd }),
      runBcn(["--version"], { cwd }),
      runBcn(["nonsense"], { cwd }),
      runBcn(["node", "nonsense"], { cwd }),
    ]);
    assertEquals(help.code, 0, help.stderr);
    assert(help.stdout.includes("Usage: bcn"), help.stdout);
    assert(help.stdout.includes("node start"), help.stdout);
    assertEquals(startHelp.code, 0, startHelp.stderr);
    assert(
      startHelp.stdout.includes("Usage: bcn node start"),
      startHelp.stdout,
    );
    for (const flag of ["--node", "--bootstrap", "--seed", "--authpass"]) {
      assert(startHelp.stdout.includes(flag), startHelp.stdout);
    }
    assertEquals(ver.code, 0, ver.stderr);
    assertEquals(ver.stdout, `bcn ${version} (deno ${Deno.version.deno})\n`);
    assertUserError(bad, "nonsense");
    assertUserError(badNode, "node nonsense");
    assertEquals(await listFiles(cwd), []);
  });
});

/** The blocks in a `block.store`'s bytes; every line must end in `\n`. */
function storedBlocks(bytes: Uint8Array): SigBlock[] {
  const text = new TextDecoder().decode(bytes);
  assert(text === "" || text.endsWith("\n"), text);
  return text.split("\n").filter((l) => l !== "").map((l) => decodeSigBlock(l));
}

Deno.test("a bootstrap restarted after a crash that lost its last block's newline keeps the block and builds on it", async () => {
  const chain = makeChain(5, 2);
  await withTempDir(async (tmp) => {
    const storeDir = join(tmp, "blockstore");
    const path = join(storeDir, "block.store");
    await writeStore(storeDir, chain.genesis, chain.blocks);
    // The crash: block 5 reached the disk, its newline did not.
    const whole = await Deno.readFile(path);
    await Deno.truncate(path, whole.length - 1);
    await writeKey(join(tmp, "keystore"), chain.authority, PASS);
    await writeKey(join(tmp, "keystore"), chain.owner, PASS);
    const port = freePort();
    const node = `127.0.0.1:${port}`;
    const boot = await startBcn(
      [...bootstrapArgs(port, tmp), "--period", "300ms"],
      { cwd: tmp },
    );
    try {
      const out = await boot.waitFor(served(port));
      assertEquals(
        printedState(out),
        expectedState(chain.genesis, chain.blocks),
      );
      assert(
        boot.output().stderr.includes(
          "block.store: the last line, block 5, was whole but lacked its newline",
        ),
        boot.output().stderr,
      );
      assertEquals(await Deno.readFile(path), whole);

      // A transfer, which the proposer puts in block 6 on top of block 5.
      const sign = await runBcn([
        "tx",
        "sign",
        "--node",
        node,
        "--from",
        chain.owner.address,
        "--to",
        chain.others[0].address,
        "--value",
        "7",
        "--ownerpass",
        PASS,
      ], { cwd: tmp });
      assertEquals(sign.code, 0, sign.stderr);
      const tx = decodeSigTx(sign.stdout.trim());
      assertEquals(tx.nonce, 11n);
      const send = await runBcn(
        ["tx", "send", "--node", node, "--sigtx", sign.stdout.trim()],
        { cwd: tmp },
      );
      assertEquals(send.code, 0, send.stderr);
      let bytes = whole;
      for (let i = 0; i < 120 && storedBlocks(bytes).length < 6; i++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        bytes = await Deno.readFile(path);
      }
      const blocks = storedBlocks(bytes);
      assertEquals(blocks.length, 6, boot.output().stderr);
      assertEquals(bytes.slice(0, whole.length), whole);
      assertEquals(blocks[5].number, 6n);
      assertEquals(blocks[5].parent, blockHash(chain.blocks[4]));
      assertEquals(blocks[5].txs.map(txHash), [txHash(tx)]);
    } finally {
      const res = await boot.stop();
      assertEquals(res.code, 0, res.stderr);
    }
  });
});

Deno.test("a node whose last line is a whole block that does not follow, without its newline, exits 1 and writes nothing", async () => {
  const chain = makeChain(4, 1);
  await withTempDir(async (tmp) => {
    const storeDir = join(tmp, "blockstore");
    const path = join(storeDir, "block.store");
    await writeStore(storeDir, chain.genesis, chain.blocks.slice(0, 2));
    await writeKey(join(tmp, "keystore"), chain.authority, PASS);
    // Block 4 after block 2: no interrupted append leaves that.
    const text = (await Deno.readTextFile(path)) +
      encodeSigBlock(chain.blocks[3]);
    await Deno.writeTextFile(path, text);
    const res = await runBcn(bootstrapArgs(freePort(), tmp), { cwd: tmp });
    assertUserError(
      res,
      `${path}: the last line holds block 4 without its final newline, but the line before it holds block 2`,
    );
    assertEquals(await Deno.readTextFile(path), text);
  });
});
