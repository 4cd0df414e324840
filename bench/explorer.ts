/**
 * The explorer benchmark: `deno task bench:explorer [blocks]` (default
 * 1000), with `--screenshots DIR` to also save the README's pictures
 * (`explorer-home.png` and `explorer-block.png`).
 *
 * Builds a dev-like chain of `blocks` blocks (1 to 6 transfers each among
 * five accounts, the last block a second ago) with the project's own code,
 * serves it from a bootstrap node and a regular node (real `bcn node start`
 * processes), and prints:
 *
 * - the page's size: everything `GET /` loads (HTML, script, style, icon);
 * - the first render of the home page in headless Chromium, from the start
 *   of navigation to the page's own "rendered" mark, over fresh browser
 *   contexts (no cache): median and slowest of 5;
 * - the same for a block page in the middle of the chain, and an account
 *   page (its first page of transactions).
 *
 * The machine may be shared: figures vary from run to run.
 *
 * @module
 */
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { join } from "node:path";
import { Account } from "../src/chain/account.ts";
import {
  blockHash,
  encodeSigBlock,
  type SigBlock,
} from "../src/chain/block.ts";
import { genesisHash, newGenesis } from "../src/chain/genesis.ts";
import { merkleRoot } from "../src/chain/merkle.ts";
import { type SigTx, txHash } from "../src/chain/tx.ts";
import type { Time } from "../src/chain/time.ts";
import { writeKey } from "../src/store/key_store.ts";
import { BLOCKS_FILE, BlockStore } from "../src/store/block_store.ts";
import { EXPLORER_ASSETS } from "../src/explorer/assets_gen.ts";
import { freePort, startBcn } from "../tests/e2e/helpers.ts";
import { makeTempDir } from "../tests/support.ts";

const CHROMIUM = "/usr/bin/chromium";
const PASS = "password";
const RUNS = 5;

const args = [...Deno.args];
const shotAt = args.indexOf("--screenshots");
const shots = shotAt >= 0 ? args.splice(shotAt, 2)[1] : undefined;
const BLOCKS = Number(args[0] ?? 1000);

const ns = (ms: number) => BigInt(ms) * 1_000_000n;
const at = (ms: number): Time => ({ unixNano: ns(ms), offsetMinutes: 0 });

/** A genesis 'blocks' seconds ago and a block a second, to now. */
function buildChain(blocks: number) {
  const authority = Account.create();
  const accounts = Array.from({ length: 5 }, () => Account.create());
  const start = Date.now() - (blocks + 1) * 1000;
  const genesis = authority.signGenesis({
    ...newGenesis("dev", {
      authority: authority.address,
      balances: accounts.map((a) => [a.address, 1_000_000_000n] as const),
    }),
    time: at(start),
  });
  const nonces = accounts.map(() => 0n);
  let parent = genesisHash(genesis);
  const out: SigBlock[] = [];
  let k = 0;
  // A fixed pseudo-random sequence: the same chain shape every run.
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let n = 1; n <= blocks; n++) {
    const txs: SigTx[] = [];
    // 1 to 8 transfers, mostly few: a chart with some shape.
    const count = 1 + Math.floor(next() ** 2 * 8);
    for (let i = 0; i < count; i++, k++) {
      const from = k % accounts.length;
      const to = (from + 1 + (k % 3)) % accounts.length;
      nonces[from]++;
      txs.push(accounts[from].signTx({
        from: accounts[from].address,
        to: accounts[to].address,
        value: BigInt(1 + (k * 37) % 500),
        nonce: nonces[from],
        time: at(start + n * 1000 - 400 + i * 10),
      }));
    }
    const block = authority.signBlock({
      number: BigInt(n),
      parent,
      txs,
      merkleRoot: merkleRoot(txs.map(txHash)),
      time: at(start + n * 1000),
    });
    out.push(block);
    parent = blockHash(block);
  }
  return { authority, accounts, genesis, blocks: out };
}

async function firstRender(
  browser: Browser,
  url: string,
  view: string,
  shot?: string,
): Promise<number> {
  const context = await browser.createBrowserContext();
  try {
    const page: Page = await context.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    await page.goto(url, { timeout: 30_000 });
    await page.waitForFunction(
      (v) =>
        (globalThis as unknown as {
          document: { documentElement: { dataset: Record<string, string> } };
        }).document.documentElement.dataset.view === v,
      { timeout: 30_000 },
      view,
    );
    const ms = await page.evaluate(
      (v) => performance.getEntriesByName(`rendered:${v}`)[0]?.startTime ?? NaN,
      view,
    );
    if (shot) {
      // Past the first render: the rows' arrival highlight has faded.
      await new Promise((r) => setTimeout(r, 2000));
      await page.screenshot({ path: shot, fullPage: true });
    }
    return ms;
  } finally {
    await context.close();
  }
}

function summary(times: number[]): string {
  const sorted = [...times].sort((a, b) => a - b);
  return `median ${
    sorted[Math.floor(sorted.length / 2)].toFixed(0)
  } ms, slowest ${sorted.at(-1)!.toFixed(0)} ms (${RUNS} runs)`;
}

const dir = await makeTempDir("bcn_bench_explorer_");
const nodes: Awaited<ReturnType<typeof startBcn>>[] = [];
let browser: Browser | undefined;
try {
  console.log(`building a chain of ${BLOCKS} blocks…`);
  const chain = buildChain(BLOCKS);
  await writeKey(join(dir, "keys"), chain.authority, PASS);
  const store = await BlockStore.open(join(dir, "store"));
  await store.writeGenesis(chain.genesis);
  await Deno.writeTextFile(
    join(dir, "store", BLOCKS_FILE),
    chain.blocks.map((b) => encodeSigBlock(b) + "\n").join(""),
  );
  const boot = `127.0.0.1:${freePort()}`;
  const regular = `127.0.0.1:${freePort()}`;
  nodes.push(
    await startBcn([
      "node",
      "start",
      "--node",
      boot,
      "--bootstrap",
      "--keystore",
      join(dir, "keys"),
      "--blockstore",
      join(dir, "store"),
      "--period",
      "1s",
    ], { cwd: dir, env: { BCN_AUTHPASS: PASS } }),
  );
  await nodes[0].waitFor("<=> gRPC", 120_000);
  nodes.push(
    await startBcn([
      "node",
      "start",
      "--node",
      regular,
      "--seed",
      boot,
      "--keystore",
      join(dir, "keys2"),
      "--blockstore",
      join(dir, "store2"),
      "--period",
      "1s",
    ], { cwd: dir }),
  );
  await nodes[1].waitFor("<=> gRPC", 120_000);

  let size = 0;
  for (const a of EXPLORER_ASSETS) {
    const res = await fetch(`http://${boot}${a.path}`);
    size += (await res.arrayBuffer()).byteLength;
  }
  console.log(
    `page size: ${size} bytes (${
      (size / 1024).toFixed(1)
    } KB) in ${EXPLORER_ASSETS.length} files, uncompressed`,
  );

  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: join(dir, "chrome"),
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
  const mid = Math.ceil(BLOCKS / 2);
  const account = chain.accounts[0].address;
  for (
    const [what, route, view] of [
      [`home page (${BLOCKS} blocks)`, "", "home"],
      [`block page (block ${mid})`, `#/block/${mid}`, "block"],
      [
        "account page (first 20 transactions)",
        `#/account/${account}`,
        "account",
      ],
    ]
  ) {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      times.push(await firstRender(browser, `http://${boot}/${route}`, view));
    }
    console.log(`first render, ${what}: ${summary(times)}`);
  }
  if (shots) {
    const busiest = chain.blocks.slice(-40).reduce((a, b) =>
      b.txs.length > a.txs.length ? b : a
    );
    await firstRender(
      browser,
      `http://${regular}/`,
      "home",
      join(shots, "explorer-home.png"),
    );
    await firstRender(
      browser,
      `http://${regular}/#/block/${busiest.number}`,
      "block",
      join(shots, "explorer-block.png"),
    );
    console.log(`screenshots in ${shots}`);
  }
} finally {
  await browser?.close();
  for (const n of nodes.reverse()) await n.stop();
  await Deno.remove(dir, { recursive: true });
}
