/**
 * End-to-end tests of the block explorer in a real browser: headless
 * Chromium (Debian's `chromium`) driven by puppeteer-core, against a
 * `bcn dev` network. When no browser is installed the browser tests are
 * skipped with one line saying so.
 *
 * Every wait is bounded: the driver's waits by their timeouts, the
 * network's by `poll`.
 */
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Tx } from "../../src/rpc/gen/tx_pb.ts";
import { decodeUtf8 } from "../../src/util/utf8.ts";
import { decodeSearchTx, type SearchTx } from "../../src/chain/search_tx.ts";
import { txHash } from "../../src/chain/tx.ts";
import {
  decodeStatus,
  type NodeStatus,
} from "../../src/node/observe/status.ts";
import { assert, assertEquals } from "../assert.ts";
import {
  type BcnProcess,
  bootstrapArgs,
  exists,
  freePort,
  freePorts,
  poll,
  runBcn,
  startBcn,
  withTempDir,
} from "./helpers.ts";
import { TEST_ROOT } from "../support.ts";
import { quoteName } from "../../src/explorer/assets/lib.js";

// The page's globals, as the callbacks run in the browser use them (the
// tests are type-checked without the DOM library).
declare const document: {
  documentElement: {
    dataset: Record<string, string | undefined>;
    scrollWidth: number;
  };
  body: unknown;
  getElementById(id: string): { textContent: string | null } | null;
  querySelector(selector: string): { textContent: string | null } | null;
};
declare const location: { hash: string };
declare function getComputedStyle(e: unknown): { backgroundColor: string };
type Field = { value: string };
type Marked = { mark?: number; __xss?: number };

/** Where Debian's `chromium` package puts the browser. */
const CHROMIUM = "/usr/bin/chromium";
const HAVE_BROWSER = await exists(CHROMIUM);
if (!HAVE_BROWSER) {
  console.log(
    `explorer browser tests skipped: no browser at ${CHROMIUM} (apt-get install chromium)`,
  );
}

/** Bound of every wait in the page. */
const PAGE_WAIT_MS = 20_000;
/** A dev chain's period: blocks come fast. */
const PERIOD = "300ms";
const READY = " running, a block ";
/** A receiver that is markup: the page must show it as text. */
const MARKUP =
  `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">`;

async function status(addr: string): Promise<NodeStatus> {
  const res = await fetch(`http://${addr}/status`, {
    signal: AbortSignal.timeout(10_000),
  });
  return decodeStatus(await res.text());
}

/** The first message of a Connect JSON server stream, or undefined. */
async function firstOfStream(
  addr: string,
  method: string,
  req: unknown,
): Promise<Record<string, string> | undefined> {
  const body = new TextEncoder().encode(JSON.stringify(req));
  const env = new Uint8Array(5 + body.length);
  new DataView(env.buffer).setUint32(1, body.length);
  env.set(body, 5);
  const res = await fetch(`http://${addr}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/connect+json" },
    body: env,
    signal: AbortSignal.timeout(10_000),
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.length < 5 || bytes[0] !== 0) return undefined;
  const len = new DataView(bytes.buffer).getUint32(1);
  return JSON.parse(new TextDecoder().decode(bytes.subarray(5, 5 + len)));
}

const fromB64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

async function searchTx(addr: string, hash: string): Promise<SearchTx> {
  const m = await firstOfStream(addr, "Tx/TxSearch", { Hash: hash });
  assert(m, `tx ${hash} on ${addr}`);
  return decodeSearchTx(fromB64(m.Tx));
}

/** Signs on `signer` and sends through `via`: the transaction's hash. */
async function transfer(
  signer: string,
  via: string,
  from: string,
  to: string,
  value: bigint,
): Promise<string> {
  // The node signs: the CLI and Client refuse a receiver that is no
  // address, which is what the markup test needs to send.
  const tx = createClient(
    Tx,
    createConnectTransport({
      baseUrl: `http://${signer}`,
      httpVersion: "1.1",
    }),
  );
  const signed = await tx.txSign({
    From: from,
    To: to,
    Value: value,
    Password: "password",
  });
  const sent = await runBcn([
    "tx",
    "send",
    "--node",
    via,
    "--sigtx",
    decodeUtf8(signed.Tx),
  ]);
  assertEquals(sent.code, 0, sent.stderr);
  const hash = /^tx ([0-9a-f]{64})/.exec(sent.stdout)?.[1];
  assert(hash, sent.stdout);
  return hash;
}

/** A headless Chromium with a fresh profile under the tests' root. */
async function launch(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const profile = await Deno.makeTempDir({ dir: TEST_ROOT, prefix: "chrome_" });
  try {
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      userDataDir: profile,
      // Root in a container has no user namespace for Chromium's sandbox.
      args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
      // Its own small environment: none of the test's is read or passed on.
      env: { PATH: "/usr/bin:/bin", HOME: profile },
      timeout: PAGE_WAIT_MS,
      protocolTimeout: PAGE_WAIT_MS * 2,
    });
    return {
      browser,
      async close() {
        // Bounded: a browser that does not close in time is killed.
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<"late">((resolve) =>
          timer = setTimeout(() => resolve("late"), PAGE_WAIT_MS)
        );
        const closed = await Promise.race([browser.close(), late]);
        clearTimeout(timer);
        if (closed === "late") browser.process()?.kill("SIGKILL");
        await Deno.remove(profile, { recursive: true });
      },
    };
  } catch (e) {
    await Deno.remove(profile, { recursive: true });
    throw e;
  }
}

/** Runs `action` and waits for the page to show view `view`. */
async function until(
  page: Page,
  view: string,
  action: () => Promise<unknown>,
): Promise<void> {
  await page.evaluate(() => delete document.documentElement.dataset.view);
  await action();
  await page.waitForFunction(
    (v) => document.documentElement.dataset.view === v,
    { timeout: PAGE_WAIT_MS },
    view,
  );
}

/** The text of `[data-k=key]` on the page. */
function fact(page: Page, key: string): Promise<string> {
  return page.$eval(`[data-k="${key}"]`, (e) => e.textContent ?? "");
}

/** Types `q` into the search box with the keyboard and presses Enter. */
async function search(page: Page, q: string, view: string): Promise<void> {
  await until(page, view, async () => {
    await page.$eval("#q", (e) => (e as unknown as Field).value = "");
    await page.focus("#q");
    await page.keyboard.type(q);
    await page.keyboard.press("Enter");
  });
}

Deno.test({
  name:
    "explorer: facts match /status, live transfer, click-through, Merkle check, search, CSP, markup as text",
  ignore: !HAVE_BROWSER,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await withTempDir(async (tmp) => {
      const port = freePorts(2);
      const dev = await startBcn([
        "dev",
        // Under the test's own directory: a killed `bcn dev` cannot remove
        // a temporary one of its own.
        "--dir",
        join(tmp, "dev"),
        "--nodes",
        "2",
        "--port",
        String(port),
        "--period",
        PERIOD,
        "--accounts",
        "2",
      ]);
      let chrome: Awaited<ReturnType<typeof launch>> | undefined;
      try {
        const out = await dev.waitFor(READY, 60_000);
        const nodes = [0, 1].map((i) => `127.0.0.1:${port + i}`);
        // Each node's explorer URL is printed.
        for (const n of nodes) assert(out.includes(`  http://${n}/\n`), out);
        const accounts = [
          ...out.matchAll(/^([0-9a-f]{64}) {2,}\d+ {2}password {2}(\S+)$/gm),
        ].map((m) => ({ address: m[1], node: m[2] }));
        assertEquals(accounts.length, 2);
        const [a, b] = accounts;
        // Sent through one node, watched on the other.
        const via = nodes[0];
        const watched = nodes[1];
        await poll(
          `${watched} healthy`,
          async () => (await status(watched)).health.ok,
        );

        chrome = await launch();
        const page = await chrome.browser.newPage();
        const problems: string[] = [];
        page.on("pageerror", (e) => problems.push(`page error: ${e}`));
        page.on("console", (m) => {
          if (m.type() === "error") problems.push(`console: ${m.text()}`);
        });
        await page.setViewport({ width: 1100, height: 900 });

        await t.step(
          "the page has CSP and nosniff; the facts match /status",
          async () => {
            let res;
            await until(page, "home", async () => {
              res = await page.goto(`http://${watched}/`, {
                timeout: PAGE_WAIT_MS,
              });
            });
            const headers = res!.headers();
            assert(
              headers["content-security-policy"]?.includes("script-src 'self'"),
              JSON.stringify(headers),
            );
            assert(
              headers["content-security-policy"].includes("connect-src 'self'"),
            );
            assertEquals(headers["x-content-type-options"], "nosniff");
            const s = await status(watched);
            assertEquals(await fact(page, "chain"), s.chain);
            assertEquals(await fact(page, "genesis"), s.genesis);
            assertEquals(await fact(page, "authority"), s.authority);
            assertEquals(await fact(page, "pending"), String(s.pending));
            assert((await fact(page, "health")).startsWith("ok"));
            assertEquals(
              await page.$eval("#head-number", (e) => e.textContent),
              String(s.lastBlock.number),
            );
            assert(
              (await fact(page, "head")).includes(
                s.lastBlock.hash.slice(0, 10),
              ),
            );
            assert(
              (await fact(page, "peers")).startsWith(String(s.peers.length)),
            );
          },
        );

        let hash = "";
        await t.step(
          "a transfer sent through another node appears live",
          async () => {
            // A page that reloaded would lose this mark.
            await page.evaluate(() => (globalThis as Marked).mark = 7);
            await page.waitForFunction(
              () =>
                document.getElementById("conn")?.textContent?.startsWith(
                  "Live",
                ),
              { timeout: PAGE_WAIT_MS },
            );
            hash = await transfer(a.node, via, a.address, b.address, 25n);
            await page.waitForSelector(`#txs tr[data-hash="${hash}"]`, {
              timeout: PAGE_WAIT_MS,
            });
            assertEquals(
              await page.evaluate(() => (globalThis as Marked).mark),
              7,
            );
            const found = await searchTx(watched, hash);
            await page.waitForSelector(
              `#blocks tr[data-number="${found.blockNumber}"]`,
              {
                timeout: PAGE_WAIT_MS,
              },
            );
            await page.screenshot({
              path: join(TEST_ROOT, "explorer-home.png"),
            });
          },
        );

        await t.step(
          "block -> transaction -> account show the right values",
          async () => {
            const found = await searchTx(watched, hash);
            const s = await status(watched);
            await until(
              page,
              "block",
              () => page.click(`#txs tr[data-hash="${hash}"] td.wide a`),
            );
            assertEquals(await fact(page, "number"), String(found.blockNumber));
            assertEquals(await fact(page, "hash"), found.blockHash);
            assertEquals(await fact(page, "merkleRoot"), found.merkleRoot);
            assertEquals(
              await fact(page, "signer"),
              `${s.authority} the authority`,
            );
            await page.screenshot({
              path: join(TEST_ROOT, "explorer-block.png"),
            });

            await until(
              page,
              "tx",
              () => page.click(`tr[data-hash="${hash}"] td a[href^="#/tx/"]`),
            );
            assertEquals(await fact(page, "hash"), hash);
            assertEquals(txHash(found), hash);
            assertEquals(await fact(page, "from"), a.address);
            assertEquals(await fact(page, "to"), b.address);
            assertEquals(await fact(page, "value"), "25");
            assertEquals(await fact(page, "nonce"), String(found.nonce));
            assert(
              (await fact(page, "block")).startsWith(String(found.blockNumber)),
            );

            await until(page, "account", () => page.click(`[data-k="from"] a`));
            assertEquals(await fact(page, "address"), a.address);
            await page.waitForSelector(`tr[data-hash="${hash}"]`, {
              timeout: PAGE_WAIT_MS,
            });
            const balance = await runBcn([
              "account",
              "balance",
              "--node",
              watched,
              "--account",
              a.address,
            ]);
            assertEquals(
              await fact(page, "balance"),
              /: (\d+)\n$/.exec(balance.stdout)?.[1],
            );
            await page.waitForFunction(
              () =>
                /^\d+$/.test(
                  document.querySelector('[data-k="nonce"]')?.textContent ?? "",
                ),
              { timeout: PAGE_WAIT_MS },
            );
            assertEquals(await fact(page, "nonce"), "1");
          },
        );

        await t.step(
          "the in-page Merkle check passes, and fails for a tampered proof",
          async () => {
            await until(
              page,
              "tx",
              () => page.evaluate((h) => location.hash = `#/tx/${h}`, hash),
            );
            await page.waitForSelector('#proof-result[data-valid="true"]', {
              timeout: PAGE_WAIT_MS,
            });
            const proof = await page.$eval(
              "#proof",
              (e) => (e as unknown as Field).value,
            );
            const steps = JSON.parse(proof) as { hash: string; pos: number }[];
            const flip = (h: string) => (h[0] === "0" ? "1" : "0") + h.slice(1);
            // The transaction's own hash changed, and a step added that
            // leads past the root: each fails the check.
            const tampered = [
              steps.map((s) =>
                s.hash === hash ? { ...s, hash: flip(s.hash) } : s
              ),
              [...steps, { hash: "ab".repeat(32), pos: 2 }],
            ];
            for (const bad of tampered) {
              await page.$eval(
                "#proof",
                (e, v) => (e as unknown as Field).value = v,
                JSON.stringify(bad),
              );
              await page.click("#check-proof");
              await page.waitForSelector('#proof-result[data-valid="false"]', {
                timeout: PAGE_WAIT_MS,
              });
              assert(
                (await page.$eval("#proof-result", (e) => e.textContent))!
                  .startsWith("Invalid"),
              );
              // Back to valid before the next one.
              await page.$eval(
                "#proof",
                (e, v) => (e as unknown as Field).value = v,
                proof,
              );
              await page.click("#check-proof");
              await page.waitForSelector('#proof-result[data-valid="true"]', {
                timeout: PAGE_WAIT_MS,
              });
            }
            await page.$eval(
              "#proof",
              (e, v) => (e as unknown as Field).value = v,
              proof,
            );
            // The keyboard reaches the button too.
            await page.focus("#check-proof");
            await page.keyboard.press("Enter");
            await page.waitForSelector('#proof-result[data-valid="true"]', {
              timeout: PAGE_WAIT_MS,
            });
          },
        );

        await t.step(
          "search finds a block number, block hash (and prefix), tx hash (and prefix), address",
          async () => {
            const found = await searchTx(watched, hash);
            const n = String(found.blockNumber);
            await search(page, n, "block");
            assertEquals(await fact(page, "number"), n);
            await search(page, found.blockHash, "block");
            assertEquals(await fact(page, "number"), n);
            await search(page, `0x${found.blockHash.slice(0, 12)}`, "block");
            assertEquals(await fact(page, "hash"), found.blockHash);
            await search(page, hash, "tx");
            assertEquals(await fact(page, "hash"), hash);
            await search(page, hash.slice(0, 12).toUpperCase(), "tx");
            assertEquals(await fact(page, "hash"), hash);
            await search(page, b.address, "account");
            assertEquals(await fact(page, "address"), b.address);
            await search(page, "not a key", "search");
            assert(
              (await page.$eval("main", (e) => e.textContent))!.includes(
                "expected a block number",
              ),
            );
          },
        );

        await t.step("a receiver holding markup is shown as text", async () => {
          const bad = await transfer(a.node, via, a.address, MARKUP, 1n);
          await until(
            page,
            "home",
            () => page.evaluate(() => location.hash = "#/"),
          );
          await page.waitForSelector(`#txs tr[data-hash="${bad}"]`, {
            timeout: PAGE_WAIT_MS,
          });
          await until(
            page,
            "tx",
            () => page.evaluate((h) => location.hash = `#/tx/${h}`, bad),
          );
          assertEquals(
            await fact(page, "to"),
            `${quoteName(MARKUP)} not an address`,
          );
          assertEquals(
            await page.evaluate(() => (globalThis as Marked).__xss),
            undefined,
          );
          assertEquals(
            await page.$$eval("main script, main img", (e) => e.length),
            0,
          );
        });

        await t.step(
          "a receiver that starts with an address is not on its page",
          async () => {
            // The node's account search matches prefixes: this transfer goes
            // to another account than b's, and must not show as b's income.
            const spoof = await transfer(
              a.node,
              via,
              a.address,
              `${b.address}x`,
              1n,
            );
            await until(
              page,
              "home",
              () => page.evaluate(() => location.hash = "#/"),
            );
            await page.waitForSelector(`#txs tr[data-hash="${spoof}"]`, {
              timeout: PAGE_WAIT_MS,
            });
            // Confirmed: on the page of a, which sent it.
            await until(
              page,
              "account",
              () =>
                page.evaluate(
                  (x) => location.hash = `#/account/${x}`,
                  a.address,
                ),
            );
            assertEquals((await page.$$(`tr[data-hash="${spoof}"]`)).length, 1);
            const nonce = await fact(page, "nonce");
            assert(/^[1-9]\d*$/.test(nonce), nonce);
            // Past its last page the nonce is counted only when asked.
            await until(
              page,
              "account",
              () =>
                page.evaluate(
                  (x) => location.hash = `#/account/${x}/2`,
                  a.address,
                ),
            );
            assert((await fact(page, "nonce")).startsWith("Count"));
            await page.click("#count-nonce");
            await page.waitForFunction(
              () =>
                /^\d+$/.test(
                  document.querySelector('[data-k="nonce"]')?.textContent ?? "",
                ),
              { timeout: PAGE_WAIT_MS },
            );
            assertEquals(await fact(page, "nonce"), nonce);
            await until(
              page,
              "account",
              () =>
                page.evaluate(
                  (x) => location.hash = `#/account/${x}`,
                  b.address,
                ),
            );
            assertEquals((await page.$$(`tr[data-hash="${spoof}"]`)).length, 0);
            // b sent nothing: its nonce is read off its only page.
            assertEquals(await fact(page, "nonce"), "0");
          },
        );

        await t.step("readable at 375 px; a dark scheme", async () => {
          await page.setViewport({ width: 375, height: 800 });
          for (const route of ["#/", `#/tx/${hash}`]) {
            await until(
              page,
              route === "#/" ? "home" : "tx",
              () => page.evaluate((r) => location.hash = r, route),
            );
            const width = await page.evaluate(() =>
              document.documentElement.scrollWidth
            );
            assert(width <= 375, `${route} is ${width} px wide at 375 px`);
          }
          const light = await page.evaluate(() =>
            getComputedStyle(document.body).backgroundColor
          );
          await page.emulateMediaFeatures([{
            name: "prefers-color-scheme",
            value: "dark",
          }]);
          const dark = await page.evaluate(() =>
            getComputedStyle(document.body).backgroundColor
          );
          assert(light !== dark, `${light} in both schemes`);
        });

        assertEquals(problems, []);
      } finally {
        await chrome?.close();
        await dev.stop("SIGKILL");
      }
    });
  },
});

Deno.test("node start --explorer=false serves no page on GET /", async () => {
  await withTempDir(async (dir) => {
    const addr = `127.0.0.1:${freePort()}`;
    let node: BcnProcess | undefined;
    try {
      node = await startBcn([
        ...bootstrapArgs(addr, { dir }),
        "--explorer=false",
      ]);
      await poll(`${addr} serving`, async () => {
        try {
          return (await fetch(`http://${addr}/healthz`)).status > 0
            ? true
            : undefined;
        } catch {
          return undefined;
        }
      });
      const res = await fetch(`http://${addr}/`);
      assertEquals(res.status, 404);
      await res.body?.cancel();
      const ok = await fetch(`http://${addr}/status`);
      await ok.body?.cancel();
      assertEquals(ok.headers.get("content-security-policy"), null);
    } finally {
      await node?.stop();
    }
  });
});
