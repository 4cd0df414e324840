// The explorer page: reads the node it is served by through the node's
// read RPCs (Connect JSON over fetch, same origin) and follows its event
// stream. Every value from the chain goes into the page as text
// (text nodes), never as markup.
import {
  ago,
  connectError,
  decodeMerkleProof,
  encodeEnvelope,
  EnvelopeReader,
  fromBase64,
  HASH_RE,
  involves,
  merkleVerify,
  nonceOnLastPage,
  parseJson,
  parseSearch,
  quoteName,
  readBlock,
  readSearchTx,
  recoverAddress,
  short,
} from "./lib.js";

/** Blocks kept for the home page's lists and chart. */
const RECENT = 32;
/** Rows in the home page's lists. */
const ROWS = 10;
/** Transactions per account page. */
const PAGE = 20;
/** The most transactions read to find an account's confirmed nonce. */
const NONCE_SCAN = 100_000;

const decoder = new TextDecoder();
const main = document.getElementById("main");

// ---------------------------------------------------------------- DOM

/**
 * An element with attributes and children; strings become text nodes, so
 * chain values can never become markup.
 */
function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v !== undefined && v !== false) {
      e.setAttribute(k, v === true ? "" : String(v));
    }
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return e;
}

const link = (href, text, attrs = {}) => h("a", { href, ...attrs }, text);
const blockHref = (n) => `#/block/${encodeURIComponent(n)}`;
const txHref = (hash) => `#/tx/${encodeURIComponent(hash)}`;
const accountHref = (a) => `#/account/${encodeURIComponent(a)}`;
const mono = (text, attrs = {}) => h("span", { class: "mono", ...attrs }, text);

/**
 * An address as a link to its page; any other receiver as a quoted,
 * escaped name marked as no address (no key can spend what it holds).
 */
function accountLink(a, shorten = true) {
  if (HASH_RE.test(a)) {
    return link(accountHref(a), shorten ? short(a) : a, {
      class: "mono",
      title: a,
    });
  }
  return h(
    "span",
    { class: "name" },
    mono(quoteName(a, shorten ? 16 : undefined)),
    h("span", { class: "muted" }, " not an address"),
  );
}

function facts(rows) {
  return h(
    "dl",
    { class: "facts" },
    rows.filter(Boolean).map(([label, key, ...value]) => [
      h("dt", {}, label),
      h("dd", { "data-k": key }, ...value),
    ]),
  );
}

function card(title, ...children) {
  return h(
    "section",
    { class: "card", "aria-label": title },
    h("h2", {}, title),
    ...children,
  );
}

function table(caption, heads, rows) {
  return h(
    "table",
    {},
    h("caption", { class: "visually-hidden" }, caption),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        heads.map(([t, cls]) => h("th", { scope: "col", class: cls }, t)),
      ),
    ),
    h("tbody", {}, rows),
  );
}

function show(title, ...children) {
  document.title = `${title} · bcn explorer`;
  main.replaceChildren(h("h1", {}, title), ...children);
}

function showError(title, e) {
  show(title, h("p", { class: "error", role: "alert" }, messageOf(e)));
  ready("error");
}

const messageOf = (e) => (e instanceof Error ? e.message : String(e));

/** Marks the page rendered (for tests and the benchmark). */
function ready(view) {
  document.documentElement.dataset.view = view;
  performance.mark(`rendered:${view}`);
}

// ---------------------------------------------------------------- RPC

const HEADERS = { "connect-protocol-version": "1" };

/** A unary call, e.g. `call("Account/AccountBalance", { Address })`. */
async function call(method, req, signal) {
  const res = await fetch(`/${method}`, {
    method: "POST",
    headers: { ...HEADERS, "content-type": "application/json" },
    body: JSON.stringify(req),
    signal,
  });
  const text = await res.text();
  if (!res.ok) {
    const err = new Error(
      connectError(text) ?? `${method}: HTTP ${res.status}`,
    );
    err.status = res.status;
    throw err;
  }
  return parseJson(text);
}

/** A server-streaming call's messages, as they come. */
async function* stream(method, req, signal) {
  const res = await fetch(`/${method}`, {
    method: "POST",
    headers: { ...HEADERS, "content-type": "application/connect+json" },
    body: encodeEnvelope(0, JSON.stringify(req)),
    signal,
  });
  if (!res.ok || !res.body) {
    throw new Error(
      connectError(await res.text()) ?? `${method}: HTTP ${res.status}`,
    );
  }
  const reader = res.body.getReader();
  const envelopes = new EnvelopeReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      for (const m of envelopes.push(value)) {
        const text = decoder.decode(m.data);
        if (m.flags & 2) {
          const e = connectError(text);
          if (e) throw new Error(`${method}: ${e}`);
          return;
        }
        yield parseJson(text);
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/**
 * Up to `max` messages of a stream that `keep` accepts, after skipping
 * `skip` of them; the call is cancelled once they are read (a page of a
 * long list, never all of it).
 */
async function take(method, req, max, signal, skip = 0, keep = () => true) {
  const ctl = new AbortController();
  const stop = () => ctl.abort();
  signal?.addEventListener("abort", stop, { once: true });
  const out = [];
  let seen = 0;
  try {
    for await (const m of stream(method, req, ctl.signal)) {
      if (!keep(m)) continue;
      if (seen++ < skip) continue;
      out.push(m);
      if (out.length >= max) break;
    }
  } finally {
    signal?.removeEventListener("abort", stop);
    ctl.abort();
  }
  return out;
}

const bytesText = (b64) => decoder.decode(fromBase64(b64 ?? ""));

async function getStatus(signal) {
  const res = await fetch("/status", { signal, cache: "no-store" });
  const text = await res.text();
  if (!res.ok) throw new Error(`the node is not ready: ${text.trim()}`);
  return parseJson(text);
}

async function blockBy(key, signal) {
  const req = /^\d+$/.test(key) ? { Number: key } : { Hash: key };
  const [m] = await take("Block/BlockSearch", req, 1, signal);
  return m ? readBlock(bytesText(m.Block)) : undefined;
}

async function txBy(hash, signal) {
  const [m] = await take("Tx/TxSearch", { Hash: hash }, 1, signal);
  return m ? readSearchTx(bytesText(m.Tx)) : undefined;
}

// ---------------------------------------------------------------- state

const app = {
  /** The last `/status`. */
  status: undefined,
  /** The last RECENT blocks, oldest first. */
  recent: [],
  /** The current view's abort controller. */
  view: new AbortController(),
};

function addRecent(block) {
  const last = app.recent.at(-1);
  if (last && BigInt(block.number) <= BigInt(last.number)) return false;
  app.recent.push(block);
  if (app.recent.length > RECENT) {
    app.recent.splice(0, app.recent.length - RECENT);
  }
  return true;
}

async function loadRecent(signal) {
  app.status = await getStatus(signal);
  const head = BigInt(app.status.lastBlock.number);
  if (head === 0n) return;
  const from = head > BigInt(RECENT) ? head - BigInt(RECENT) + 1n : 1n;
  const msgs = await take(
    "Block/BlockSync",
    { Number: String(from) },
    RECENT * 2,
    signal,
  );
  for (const m of msgs) addRecent(readBlock(bytesText(m.Block)));
}

// ---------------------------------------------------------------- home

function statusFacts(s) {
  const health = s.health ?? {};
  return facts([
    ["Chain", "chain", h("strong", {}, s.chain)],
    [
      "Head block",
      "head",
      link(blockHref(s.lastBlock.number), s.lastBlock.number, {
        id: "head-number",
      }),
      " ",
      mono(short(s.lastBlock.hash), { title: s.lastBlock.hash }),
    ],
    [
      "Last block time",
      "time",
      s.lastBlock.time,
      " ",
      h("span", { class: "muted" }, `(${ago(s.lastBlock.time, Date.now())})`),
    ],
    ["Pending transactions", "pending", s.pending],
    [
      "Peers",
      "peers",
      String(s.peers?.length ?? 0),
      s.peers?.length
        ? h("span", { class: "muted" }, ` (${s.peers.join(", ")})`)
        : "",
    ],
    [
      "Health",
      "health",
      h(
        "span",
        { class: health.ok ? "ok" : "bad" },
        health.ok ? "ok" : "not ok",
      ),
      health.ok ? "" : ` ${health.reason ?? ""}`,
    ],
    ["Authority", "authority", accountLink(s.authority, false)],
    ["Genesis", "genesis", mono(s.genesis)],
    [
      "Node",
      "node",
      mono(s.node),
      h(
        "span",
        { class: "muted" },
        ` bcn ${s.version}${s.isAuthority ? ", the authority" : ""}`,
      ),
    ],
  ]);
}

function blockRow(b, fresh) {
  return h(
    "tr",
    { class: fresh ? "fresh" : undefined, "data-number": b.number },
    h("td", {}, link(blockHref(b.number), b.number)),
    h(
      "td",
      {},
      link(blockHref(b.hash), short(b.hash), { class: "mono", title: b.hash }),
    ),
    h("td", { class: "num" }, String(b.txs.length)),
    h("td", { class: "muted" }, ago(b.time, Date.now())),
  );
}

function txRow(tx, number, fresh) {
  return h(
    "tr",
    { class: fresh ? "fresh" : undefined, "data-hash": tx.hash },
    h(
      "td",
      {},
      link(txHref(tx.hash), short(tx.hash), { class: "mono", title: tx.hash }),
    ),
    h("td", {}, accountLink(tx.from), " → ", accountLink(tx.to)),
    h("td", { class: "num" }, tx.value),
    h("td", { class: "wide" }, link(blockHref(number), number)),
  );
}

function latestTxs(blocks, max) {
  const out = [];
  for (let i = blocks.length - 1; i >= 0 && out.length < max; i--) {
    const b = blocks[i];
    for (let k = b.txs.length - 1; k >= 0 && out.length < max; k--) {
      out.push([b.txs[k], b.number]);
    }
  }
  return out;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  for (const c of children) {
    e.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return e;
}

function chart(blocks) {
  const counts = blocks.map((b) => b.txs.length);
  const max = Math.max(1, ...counts);
  const w = 640;
  const ht = 100;
  const slot = w / RECENT;
  const first = blocks[0]?.number;
  const last = blocks.at(-1)?.number;
  const label = blocks.length
    ? `Transactions per block, blocks ${first} to ${last}: at most ${max}`
    : "No blocks yet";
  const bars = blocks.map((b, i) => {
    const bh = Math.max(2, (b.txs.length / max) * (ht - 4));
    return svg(
      "rect",
      {
        x: (i + RECENT - blocks.length) * slot + 1,
        y: ht - bh,
        width: Math.max(1, slot - 3),
        height: bh,
        rx: 2,
      },
      svg(
        "title",
        {},
        `Block ${b.number}: ${b.txs.length} transaction${
          b.txs.length === 1 ? "" : "s"
        }`,
      ),
    );
  });
  return h(
    "figure",
    { class: "chart" },
    svg("svg", {
      viewBox: `0 0 ${w} ${ht}`,
      role: "img",
      "aria-label": label,
      preserveAspectRatio: "none",
    }, ...bars),
    h("figcaption", { class: "muted" }, label),
  );
}

function renderHome() {
  const s = app.status;
  const blocks = app.recent;
  const txs = latestTxs(blocks, ROWS);
  show(
    s ? `${s.chain} chain` : "Chain",
    s
      ? card("The chain at a glance", h("div", { id: "facts" }, statusFacts(s)))
      : "",
    card("Transactions per block", h("div", { id: "chart" }, chart(blocks))),
    h(
      "div",
      { class: "grid" },
      card(
        "Latest blocks",
        table(
          "Latest blocks, newest first",
          [["Block"], ["Hash"], ["Txs", "num"], ["Age"]],
          blocks.slice(-ROWS).reverse().map((b) => blockRow(b, false)),
        ),
      ),
      card(
        "Latest transactions",
        table("Latest transactions, newest first", [["Hash"], ["From → to"], [
          "Value",
          "num",
        ], ["Block", "wide"]], txs.map(([tx, n]) => txRow(tx, n, false))),
      ),
    ),
  );
  main.querySelectorAll("tbody")[0]?.setAttribute("id", "blocks");
  main.querySelectorAll("tbody")[1]?.setAttribute("id", "txs");
  ready("home");
}

/** A new block on the home page: new rows on top, the facts and chart redrawn. */
function homeAddBlock(b) {
  const blocks = document.getElementById("blocks");
  const txs = document.getElementById("txs");
  if (!blocks || !txs) return renderHome();
  blocks.prepend(blockRow(b, true));
  while (blocks.rows.length > ROWS) blocks.lastElementChild.remove();
  // Only the rows that stay: a block of thousands adds no more than ROWS.
  for (const tx of b.txs.slice(-ROWS)) txs.prepend(txRow(tx, b.number, true));
  while (txs.rows.length > ROWS) txs.lastElementChild.remove();
  document.getElementById("chart")?.replaceChildren(chart(app.recent));
  if (app.status) {
    document.getElementById("facts")?.replaceChildren(statusFacts(app.status));
  }
}

// ---------------------------------------------------------------- pages

async function blockPage(key, signal) {
  if (!/^\d+$/.test(key) && !/^[0-9a-f]{1,64}$/.test(key)) {
    throw new Error(`not a block number or hash: ${quoteName(key)}`);
  }
  const [b, s] = await Promise.all([
    blockBy(key, signal),
    app.status ?? getStatus(signal),
  ]);
  if (!b) {
    show(
      `Block ${short(key)}`,
      h(
        "p",
        { class: "note" },
        `No block ${key} on this node yet (its head is block ${s.lastBlock.number}).`,
      ),
    );
    return ready("block");
  }
  let signer;
  try {
    const who = recoverAddress(b.digest, fromBase64(b.sig));
    signer = [
      accountLink(who, false),
      who === s.authority
        ? h("span", { class: "ok" }, " the authority")
        : h("span", { class: "bad" }, " not the authority"),
    ];
  } catch (e) {
    signer = [h("span", { class: "bad" }, messageOf(e))];
  }
  const n = BigInt(b.number);
  show(
    `Block ${b.number}`,
    card(
      "Block",
      facts([
        ["Number", "number", b.number],
        ["Hash", "hash", mono(b.hash)],
        [
          "Parent",
          "parent",
          n > 1n
            ? link(blockHref(b.parent), b.parent, { class: "mono" })
            : mono(b.parent),
          n === 1n ? h("span", { class: "muted" }, " (the genesis)") : "",
        ],
        [
          "Time",
          "time",
          b.time,
          " ",
          h("span", { class: "muted" }, `(${ago(b.time, Date.now())})`),
        ],
        ["Merkle root", "merkleRoot", mono(b.merkleRoot)],
        ["Signer", "signer", ...signer],
        ["Transactions", "count", String(b.txs.length)],
      ]),
      h(
        "p",
        { class: "row" },
        n > 1n
          ? link(blockHref(String(n - 1n)), `← Block ${n - 1n}`, {
            rel: "prev",
          })
          : "",
        link(blockHref(String(n + 1n)), `Block ${n + 1n} →`, { rel: "next" }),
      ),
    ),
    card(
      "Transactions",
      table(
        `Transactions of block ${b.number}`,
        [["#", "num"], ["Hash"], ["From → to"], ["Value", "num"]],
        b.txs.map((tx, i) =>
          h(
            "tr",
            { "data-hash": tx.hash },
            h("td", { class: "num" }, String(i + 1)),
            h(
              "td",
              {},
              link(txHref(tx.hash), short(tx.hash), {
                class: "mono",
                title: tx.hash,
              }),
            ),
            h("td", {}, accountLink(tx.from), " → ", accountLink(tx.to)),
            h("td", { class: "num" }, tx.value),
          )
        ),
      ),
    ),
  );
  ready("block");
}

async function txPage(key, signal) {
  if (!/^[0-9a-f]{1,64}$/.test(key)) {
    throw new Error(`not a transaction hash: ${quoteName(key)}`);
  }
  const tx = await txBy(key, signal);
  if (!tx) {
    show(
      `Transaction ${short(key)}`,
      h(
        "p",
        { class: "note" },
        `No confirmed transaction ${key} on this node.`,
      ),
    );
    return ready("tx");
  }
  const proof = await call("Tx/TxProve", { Hash: tx.hash }, signal);
  const area = h("textarea", {
    id: "proof",
    spellcheck: "false",
    "aria-describedby": "proof-help",
  });
  // One step a line: the node's compact JSON, easier to read and edit.
  area.value = bytesText(proof.MerkleProof).replaceAll("},{", "},\n{");
  const result = h("p", { id: "proof-result", role: "status" });
  const check = () => {
    let ok;
    let why;
    try {
      ok = merkleVerify(tx.hash, decodeMerkleProof(area.value), tx.merkleRoot);
      why = ok
        ? `the proof links this transaction to block ${tx.blockNumber}'s Merkle root`
        : `the proof does not link this transaction to block ${tx.blockNumber}'s Merkle root`;
    } catch (e) {
      ok = false;
      why = messageOf(e);
    }
    result.replaceChildren(
      h("span", { class: ok ? "ok" : "bad" }, ok ? "Valid" : "Invalid"),
      `: ${why}`,
    );
    result.dataset.valid = String(ok);
  };
  show(
    "Transaction",
    card(
      "Transaction",
      facts([
        ["Hash", "hash", mono(tx.hash)],
        ["From", "from", accountLink(tx.from, false)],
        ["To", "to", accountLink(tx.to, false)],
        ["Value", "value", tx.value],
        ["Nonce", "nonce", tx.nonce],
        [
          "Time",
          "time",
          tx.time,
          " ",
          h("span", { class: "muted" }, `(${ago(tx.time, Date.now())})`),
        ],
        [
          "Block",
          "block",
          link(blockHref(tx.blockNumber), tx.blockNumber),
          " ",
          link(blockHref(tx.blockHash), short(tx.blockHash), {
            class: "mono",
            title: tx.blockHash,
          }),
        ],
        ["Merkle root", "merkleRoot", mono(tx.merkleRoot)],
      ]),
    ),
    card(
      "Merkle proof",
      h(
        "p",
        { id: "proof-help", class: "muted" },
        "Checked in this page with the rules of bcn tx verify: each step hashes a pair with Keccak-256, and the last must give the block's Merkle root. Edit the proof and check it again.",
      ),
      h("label", { for: "proof" }, "Proof (JSON)"),
      area,
      h(
        "div",
        { class: "row" },
        h("button", { type: "button", id: "check-proof" }, "Check proof"),
      ),
      result,
    ),
  );
  document.getElementById("check-proof").addEventListener("click", check);
  check();
  ready("tx");
}

async function accountPage(address, page, signal) {
  const skip = (page - 1) * PAGE;
  const [balance, rows] = await Promise.all([
    call("Account/AccountBalance", { Address: address }, signal).then(
      (r) => r.Balance ?? "0",
      (e) => {
        if (e.status === 404) return undefined;
        throw e;
      },
    ),
    // The node matches prefixes: only this account's own transactions.
    take(
      "Tx/TxSearch",
      { Account: address },
      PAGE + 1,
      signal,
      skip,
      (m) => involves(parseJson(bytesText(m.Tx)), address),
    ),
  ]);
  const txs = rows.map((m) => readSearchTx(bytesText(m.Tx)));
  const more = txs.length > PAGE;
  // On the last page the nonce is read off the page; elsewhere counting it
  // reads every transaction the account sent (the node scans its whole
  // chain), so it is counted only when asked.
  const known = more ? undefined : nonceOnLastPage(txs, address, page === 1);
  const nonce = h("span", {}, known ?? "");
  const count = h("button", { type: "button", id: "count-nonce" }, "Count");
  if (known === undefined) {
    nonce.append(
      count,
      h("span", { class: "muted" }, " (reads every transaction it sent)"),
    );
  }
  show(
    "Account",
    card(
      "Account",
      facts([
        [
          "Address",
          "address",
          HASH_RE.test(address) ? mono(address) : accountLink(address, false),
        ],
        [
          "Balance",
          "balance",
          balance ??
            h(
              "span",
              { class: "muted" },
              "none: the chain holds no balance for it",
            ),
        ],
        ["Nonce", "nonce", nonce],
      ]),
    ),
    card(
      `Transactions, oldest first (page ${page})`,
      txs.length === 0
        ? h(
          "p",
          { class: "note" },
          page === 1 ? "No confirmed transactions." : "No more transactions.",
        )
        : table(
          `Transactions of the account, page ${page}`,
          [["Hash"], ["Block"], ["In or out, with"], ["Value", "num"]],
          txs.slice(0, PAGE).map((tx) =>
            h(
              "tr",
              { "data-hash": tx.hash },
              h(
                "td",
                {},
                link(txHref(tx.hash), short(tx.hash), {
                  class: "mono",
                  title: tx.hash,
                }),
              ),
              h("td", {}, link(blockHref(tx.blockNumber), tx.blockNumber)),
              h(
                "td",
                {},
                tx.from === address
                  ? h("strong", {}, "out")
                  : h("strong", {}, "in"),
                " ",
                accountLink(tx.from === address ? tx.to : tx.from),
              ),
              h("td", { class: "num" }, tx.value),
            )
          ),
        ),
      h(
        "p",
        { class: "row" },
        page > 1
          ? link(`${accountHref(address)}/${page - 1}`, "← Previous page", {
            rel: "prev",
          })
          : "",
        more
          ? link(`${accountHref(address)}/${page + 1}`, "Next page →", {
            rel: "next",
          })
          : "",
      ),
    ),
  );
  count.addEventListener("click", () => countNonce(address, nonce, signal));
  ready("account");
}

/**
 * Counts the confirmed nonce of `address` into `out`: the last one it
 * sent, from a stream of its transactions, holding none of them and
 * reading at most NONCE_SCAN.
 */
async function countNonce(address, out, signal) {
  out.replaceChildren(h("span", { class: "muted" }, "counting…"));
  let last = "0";
  let seen = 0;
  try {
    for await (const m of stream("Tx/TxSearch", { From: address }, signal)) {
      const tx = parseJson(bytesText(m.Tx));
      if (tx?.from === address && typeof tx.nonce === "string") last = tx.nonce;
      if (++seen >= NONCE_SCAN) {
        last = `${last} or more (stopped after ${NONCE_SCAN} transactions)`;
        break;
      }
    }
    out.replaceChildren(last);
  } catch (e) {
    if (!signal.aborted) out.replaceChildren(`unknown: ${messageOf(e)}`);
  }
}

/** Resolves a search to the page it names, or says nothing matched. */
async function searchPage(input, signal) {
  const q = parseSearch(input);
  show(
    "Search",
    h("p", { class: "note" }, `Searching for ${quoteName(input)}…`),
  );
  if (q.kind === "error") {
    show("Search", h("p", { class: "error", role: "alert" }, q.message));
    return ready("search");
  }
  if (q.kind === "block") return location.replace(blockHref(q.number));
  const [block, tx] = await Promise.all([
    blockBy(q.hex, signal),
    txBy(q.hex, signal),
  ]);
  if (block) return location.replace(blockHref(block.hash));
  if (tx) return location.replace(txHref(tx.hash));
  if (q.full) return location.replace(accountHref(q.hex));
  const [m] = await take("Tx/TxSearch", { Account: q.hex }, 1, signal);
  if (m) {
    const t = readSearchTx(bytesText(m.Tx));
    return location.replace(
      accountHref(t.from.startsWith(q.hex) ? t.from : t.to),
    );
  }
  show(
    "Search",
    h(
      "p",
      { class: "note" },
      `Nothing on this node starts with ${q.hex}: no block, transaction or account.`,
    ),
  );
  ready("search");
}

// ---------------------------------------------------------------- routes

async function route() {
  app.view.abort();
  const view = app.view = new AbortController();
  const signal = view.signal;
  const parts = location.hash.replace(/^#\/?/, "").split("/").map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  const [kind, arg = "", extra = ""] = parts;
  try {
    if (kind === "" || kind === undefined) {
      await app.loaded?.catch(() => {});
      if (!app.status) await loadRecent(signal);
      renderHome();
    } else if (kind === "block") await blockPage(arg.toLowerCase(), signal);
    else if (kind === "tx") await txPage(arg.toLowerCase(), signal);
    else if (kind === "account") {
      const page = /^[1-9]\d{0,5}$/.test(extra) ? Number(extra) : 1;
      // An address in capitals is the same account; any other name is kept.
      const account = /^[0-9a-fA-F]{64}$/.test(arg) ? arg.toLowerCase() : arg;
      await accountPage(account, page, signal);
    } else if (kind === "search") await searchPage(arg, signal);
    else {
      show(
        "Not found",
        h("p", { class: "note" }, "No such page."),
        link("#/", "Home"),
      );
      ready("notfound");
    }
  } catch (e) {
    if (!signal.aborted) showError("Cannot show this page", e);
    return;
  }
  if (!signal.aborted && kind !== "search") main.focus({ preventScroll: true });
}

// ---------------------------------------------------------------- live

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function setConn(text) {
  document.getElementById("conn").textContent = text;
}

/** Shows blocks newly confirmed (on the home page, as new rows). */
function added(blocks) {
  if (blocks.length === 0) return;
  const b = blocks.at(-1);
  document.getElementById("live").textContent =
    `Block ${b.number} confirmed with ${b.txs.length} transaction${
      b.txs.length === 1 ? "" : "s"
    }.`;
  if (document.documentElement.dataset.view !== "home") return;
  for (const x of blocks) homeAddBlock(x);
}

/**
 * Brings the recent blocks up to `upTo` (the node's head when absent) from
 * the store: blocks confirmed while the page was not subscribed. A gap
 * wider than the recent blocks reloads them from the head.
 */
async function catchUp(upTo) {
  const last = app.recent.at(-1);
  if (!last) return;
  const head = upTo ??
    BigInt((app.status = await getStatus()).lastBlock.number);
  const from = BigInt(last.number) + 1n;
  if (head < from) return;
  if (head - from >= BigInt(RECENT)) {
    await loadRecent();
    if (document.documentElement.dataset.view === "home") renderHome();
    return;
  }
  const msgs = await take("Block/BlockSync", { Number: String(from) }, RECENT);
  const fresh = [];
  for (const m of msgs) {
    const x = readBlock(bytesText(m.Block));
    if (BigInt(x.number) <= head && addRecent(x)) fresh.push(x);
  }
  added(fresh);
}

async function onBlockEvent(msg) {
  const event = parseJson(bytesText(msg.Event));
  if (event.type !== "2") return;
  const b = readBlock(bytesText(event.body));
  await catchUp(BigInt(b.number) - 1n);
  const fresh = addRecent(b) ? [b] : [];
  try {
    app.status = await getStatus();
  } catch {
    // The facts keep their last values until the next block.
  }
  added(fresh);
}

/**
 * How long after asking for the event stream the page reads the blocks
 * confirmed meanwhile: a Connect stream answers nothing (not even headers)
 * before its first event, so the page cannot see when the node has
 * subscribed it; on one machine or a LAN it has well within this.
 */
const SUBSCRIBED_MS = 500;

/** Follows the node's block events; reconnects with a growing pause. */
async function follow() {
  let pause = 1000;
  for (let attempt = 0;; attempt++) {
    try {
      await (attempt === 0 ? app.loaded : loadRecent().then(() => {
        if (document.documentElement.dataset.view !== "home") return;
        if (app.recent.length) renderHome();
      }));
      pause = 1000;
      const events = stream("Node/StreamSubscribe", { EventTypes: ["2"] })[
        Symbol.asyncIterator
      ]();
      // The call starts here; its first event may come before or after the
      // catch-up, which keeps each block once.
      const first = events.next();
      first.catch(() => {});
      await sleep(SUBSCRIBED_MS);
      await catchUp();
      setConn("Live: new blocks appear as the node confirms them.");
      for (let r = await first; !r.done; r = await events.next()) {
        await onBlockEvent(r.value);
      }
      setConn("The node ended the event stream; reconnecting…");
    } catch (e) {
      setConn(`Not live (${messageOf(e)}); reconnecting…`);
    }
    await sleep(pause);
    pause = Math.min(pause * 2, 30_000);
  }
}

document.getElementById("search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = document.getElementById("q").value.trim();
  location.hash = `#/search/${encodeURIComponent(q)}`;
});
addEventListener("hashchange", route);
app.loaded = loadRecent();
app.loaded.catch(() => {});
route();
follow();
