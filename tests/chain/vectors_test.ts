/**
 * Golden files from the reference Go node (FORMAT.md: `shared/vectors/`).
 * Every file there is checked: it must decode, re-encode to exactly the same
 * bytes, and carry valid hashes, Merkle roots and signatures. A file this
 * test cannot classify fails it, so that a new kind of vector gets a check.
 *
 * The directory is `../shared/vectors/` beside the repository, or
 * `$BCN_VECTORS` when that variable is readable. When it is absent the test
 * says so and is skipped.
 */
import { argon2id } from "@noble/hashes/argon2.js";
import { assert, assertEquals } from "../assert.ts";
import { vectorsDir, vectorsPresent } from "../support.ts";
import { Account, decodePrivateKey } from "../../src/chain/account.ts";
import {
  blockHash,
  blockLeaves,
  decodeSigBlock,
  encodeBlock,
  encodeSigBlock,
  sigBlockFromJson,
  verifyBlock,
} from "../../src/chain/block.ts";
import { blockEvent, decodeEvent, encodeEvent } from "../../src/chain/event.ts";
import {
  decodeSigGenesis,
  encodeGenesis,
  encodeSigGenesis,
  genesisHash,
  type SigGenesis,
  verifyGenesis,
} from "../../src/chain/genesis.ts";
import { Fields, type JsonValue, parseJson } from "../../src/chain/json.ts";
import { parseTime } from "../../src/chain/time.ts";
import {
  decodeMerkleProof,
  encodeMerkleProof,
  merkleProve,
  merkleRoot,
} from "../../src/chain/merkle.ts";
import {
  encodeSigTx,
  encodeTx,
  sigTxFromJson,
  txFromFields,
  txHash,
  verifyTx,
} from "../../src/chain/tx.ts";

const dec = new TextDecoder("utf-8", { fatal: true });
const enc = new TextEncoder();

/** Reads a file next to the one being checked (for genesis, passwords). */
type Sibling = (name: string) => Uint8Array | undefined;

/** What a check found, for the log. */
type Verdict = string;

function fail(msg: string): never {
  throw new Error(msg);
}

/** The canonical text must be the file's text (one final newline allowed). */
function sameText(canonical: string, text: string, exact: boolean): void {
  const t = !exact && text.endsWith("\n") ? text.slice(0, -1) : text;
  assertEquals(t, canonical, "re-encoding differs from the file");
}

function keysOf(v: JsonValue): Set<string> {
  return v instanceof Map ? new Set(v.keys()) : new Set();
}

function hasAll(v: JsonValue, ...names: string[]): boolean {
  const k = keysOf(v);
  return names.every((n) => k.has(n));
}

function genesisOf(sibling: Sibling): SigGenesis | undefined {
  const g = sibling("genesis.json");
  return g ? decodeSigGenesis(g) : undefined;
}

/** Checks one JSON value (a whole file or one line); returns its kind. */
function checkValue(
  v: JsonValue,
  text: string,
  exact: boolean,
  sibling: Sibling,
): Verdict {
  if (Array.isArray(v)) {
    if (v.every((e) => hasAll(e, "hash", "pos"))) {
      const proof = decodeMerkleProof(text);
      sameText(encodeMerkleProof(proof), text, exact);
      return `Merkle proof of ${proof.length} steps`;
    }
    return fail("an array that is not a Merkle proof");
  }
  if (hasAll(v, "chain", "authority", "balances", "time")) {
    if (!hasAll(v, "sig")) {
      const g = decodeSigGenesis(
        text.replace(/\}\s*$/, ',"sig":""}'),
      );
      sameText(encodeGenesis(g), text, exact);
      return "Genesis (unsigned)";
    }
    const g = decodeSigGenesis(text);
    sameText(encodeSigGenesis(g), text, exact);
    assert(verifyGenesis(g), "genesis signature does not recover authority");
    return `SigGenesis ${genesisHash(g)}`;
  }
  if (hasAll(v, "number", "parent", "txs", "merkleRoot", "time")) {
    if (!hasAll(v, "sig")) {
      const b = sigBlockFromJson(
        new Map([...(v as Map<string, JsonValue>), ["sig", ""]]),
      );
      sameText(encodeBlock(b), text, exact);
      assertEquals(merkleRoot(blockLeaves(b)), b.merkleRoot, "merkle root");
      return `Block ${b.number} (unsigned)`;
    }
    const b = decodeSigBlock(text);
    sameText(encodeSigBlock(b), text, exact);
    assertEquals(merkleRoot(blockLeaves(b)), b.merkleRoot, "merkle root");
    for (const tx of b.txs) assert(verifyTx(tx), "tx signature");
    const g = genesisOf(sibling);
    if (g) assert(verifyBlock(b, g.authority), "block not signed by authority");
    return `SigBlock ${b.number} ${blockHash(b)}`;
  }
  if (hasAll(v, "from", "to", "value", "nonce", "time")) {
    const f = new Fields(v, "tx");
    if (!hasAll(v, "sig")) {
      sameText(encodeTx(txFromFields(f)), text, exact);
      return "Tx (unsigned)";
    }
    const tx = sigTxFromJson(v);
    assert(verifyTx(tx), "tx signature does not recover from");
    if (hasAll(v, "blockNumber", "blockHash", "merkleRoot")) {
      const canonical = encodeSigTx(tx).slice(0, -1) +
        `,"blockNumber":${f.u64("blockNumber")},"blockHash":"${
          f.hash("blockHash")
        }","merkleRoot":"${f.hash("merkleRoot")}"}`;
      sameText(canonical, text, exact);
      return "SearchTx";
    }
    sameText(encodeSigTx(tx), text, exact);
    return "SigTx";
  }
  if (hasAll(v, "curve", "x", "y", "d")) {
    const acc = decodePrivateKey(text);
    sameText(acc.encodePrivateKey(), text, exact);
    return `private key of ${acc.address}`;
  }
  if (hasAll(v, "type", "action", "body")) {
    const e = decodeEvent(text);
    sameText(encodeEvent(e), text, exact);
    const body = dec.decode(e.body);
    if (e.type === 1) {
      assertEquals(encodeSigTx(sigTxFromJson(parseJson(body))), body);
    }
    if (e.type === 2) assertEquals(encodeSigBlock(decodeSigBlock(body)), body);
    return `event type ${e.type}`;
  }
  return fail(
    `no check for a JSON value with fields ${[...keysOf(v)].join(", ")}`,
  );
}

/** `block.store`: one SigBlock per line, chained from the genesis. */
function checkBlockStore(text: string, sibling: Sibling): Verdict {
  if (text === "") return "empty block store";
  assert(text.endsWith("\n"), "block.store must end with a newline");
  const g = genesisOf(sibling);
  let parent = g ? genesisHash(g) : undefined;
  const lines = text.slice(0, -1).split("\n");
  lines.forEach((line, i) => {
    const b = decodeSigBlock(line, `block.store line ${i + 1}`);
    assertEquals(encodeSigBlock(b), line, `line ${i + 1} re-encodes`);
    assertEquals(b.number, BigInt(i + 1), `line ${i + 1} number`);
    if (parent !== undefined) assertEquals(b.parent, parent, "parent");
    assertEquals(merkleRoot(blockLeaves(b)), b.merkleRoot, "merkle root");
    for (const tx of b.txs) assert(verifyTx(tx), `line ${i + 1}: tx sig`);
    if (g) assert(verifyBlock(b, g.authority), `line ${i + 1}: block sig`);
    parent = blockHash(b);
  });
  return `block store of ${lines.length} blocks${
    g ? "" : " (no genesis.json beside it: signatures of blocks unchecked)"
  }`;
}

/** A key file (FORMAT.md section 5), opened when a password file is near. */
async function checkKeyFile(
  name: string,
  bytes: Uint8Array,
  sibling: Sibling,
): Promise<Verdict> {
  assert(bytes.length >= 32 + 12 + 16, "key file too short");
  const pw = sibling(`${name}.password`) ?? sibling("password") ??
    sibling("password.txt");
  if (!pw) return "key file (no password file beside it: not opened)";
  const salt = bytes.slice(0, 32);
  const nonce = bytes.slice(32, 44);
  const candidates = [pw];
  const s = new TextDecoder().decode(pw);
  if (s.trimEnd() !== s) candidates.push(enc.encode(s.trimEnd()));
  for (const p of candidates) {
    const key = argon2id(p, salt, {
      t: 1,
      m: 256,
      p: 1,
      dkLen: 32,
      version: 0x13,
    });
    const k = await crypto.subtle.importKey("raw", key, "AES-GCM", false, [
      "decrypt",
    ]);
    let plain: Uint8Array;
    try {
      plain = new Uint8Array(
        await crypto.subtle.decrypt(
          { name: "AES-GCM", iv: nonce },
          k,
          bytes.slice(44),
        ),
      );
    } catch {
      continue;
    }
    const acc = decodePrivateKey(plain);
    assertEquals(acc.address, name, "key file name is its address");
    return `key file of ${acc.address}`;
  }
  return fail("key file does not open with the password beside it");
}

const DOC = /(^readme|\.md$|\.txt$|^password$|\.password$|^\.)/i;

/** Checks one file; returns what it was. */
export async function checkVectorFile(
  name: string,
  bytes: Uint8Array,
  sibling: Sibling,
): Promise<Verdict> {
  if (DOC.test(name)) return "documentation / password, not a vector";
  if (/^[0-9a-f]{64}$/.test(name)) {
    let isJson = false;
    try {
      parseJson(bytes);
      isJson = true;
    } catch { /* binary: a key file */ }
    if (!isJson) return await checkKeyFile(name, bytes, sibling);
  }
  let text: string;
  try {
    text = dec.decode(bytes);
  } catch {
    return fail("not UTF-8 and not a key file");
  }
  if (name === "block.store") return checkBlockStore(text, sibling);
  const exact = name === "genesis.json";
  let v: JsonValue;
  try {
    v = parseJson(text);
  } catch (e) {
    // JSON lines: one value per line.
    const lines = text.split("\n").filter((l) => l.trim() !== "");
    if (lines.length < 2) throw e;
    return lines.map((l) => checkValue(parseJson(l), l, true, sibling)).join(
      "; ",
    );
  }
  return checkValue(v, text, exact, sibling);
}

function walk(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (
    const e of [...Deno.readDirSync(dir)].sort((a, b) =>
      a.name < b.name ? -1 : 1
    )
  ) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...walk(`${dir}/${e.name}`, r));
    else if (e.isFile) out.push(r);
  }
  return out;
}

function siblingReader(root: string, rel: string): Sibling {
  const dir = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
  return (name) => {
    try {
      return Deno.readFileSync(`${root}/${dir ? dir + "/" : ""}${name}`);
    } catch {
      return undefined;
    }
  };
}

const DIR = vectorsDir();
const present = vectorsPresent("the golden-file checks");

Deno.test({
  name: `vectors: every file in ${DIR}`,
  ignore: !present,
  async fn(t) {
    const files = walk(DIR);
    if (files.length === 0) console.log(`vectors: ${DIR} holds no files`);
    for (const rel of files) {
      await t.step(rel, async () => {
        const name = rel.slice(rel.lastIndexOf("/") + 1);
        const verdict = await checkVectorFile(
          name,
          Deno.readFileSync(`${DIR}/${rel}`),
          siblingReader(DIR, rel),
        );
        console.log(`vectors: ${rel}: ${verdict}`);
      });
    }
  },
});

// The checker itself, on files bcn writes, so that it is known to work
// before any golden file arrives.
Deno.test("vectors checker: accepts bcn's own output, refuses altered files", async () => {
  const auth = new Account(7n);
  const user = new Account(8n);
  const g = auth.signGenesis({
    chain: "blockchain",
    authority: auth.address,
    balances: new Map([[user.address, 100n]]),
    time: parseTime("2024-05-01T10:00:00.5Z"),
  });
  const tx = user.signTx({
    from: user.address,
    to: auth.address,
    value: 3n,
    nonce: 1n,
    time: parseTime("2024-05-01T10:01:00Z"),
  });
  const b1 = auth.signBlock({
    number: 1n,
    parent: genesisHash(g),
    txs: [tx],
    merkleRoot: merkleRoot([txHash(tx)]),
    time: parseTime("2024-05-01T10:02:00Z"),
  });
  const files: Record<string, string | Uint8Array> = {
    "genesis.json": encodeSigGenesis(g),
    "block.store": encodeSigBlock(b1) + "\n",
    "tx.json": encodeSigTx(tx) + "\n",
    "block.json": encodeSigBlock(b1),
    "proof.json": encodeMerkleProof(merkleProve([txHash(tx)], 0)),
    "key.json": user.encodePrivateKey(),
    "event.json": encodeEvent(blockEvent(b1)),
    "txs.jsonl": encodeSigTx(tx) + "\n" + encodeSigTx(tx) + "\n",
    "README.md": "# vectors",
  };
  const bytes = (v: string | Uint8Array) =>
    typeof v === "string" ? enc.encode(v) : v;
  const sib: Sibling = (n) =>
    files[n] === undefined ? undefined : bytes(files[n]);
  for (const [name, content] of Object.entries(files)) {
    await checkVectorFile(name, bytes(content), sib);
  }

  // A key file, opened with the password beside it.
  const salt = new Uint8Array(32).fill(1);
  const nonce = new Uint8Array(12).fill(2);
  const key = argon2id("secret", salt, {
    t: 1,
    m: 256,
    p: 1,
    dkLen: 32,
    version: 0x13,
  });
  const k = await crypto.subtle.importKey("raw", key, "AES-GCM", false, [
    "encrypt",
  ]);
  const ct = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: nonce },
      k,
      enc.encode(user.encodePrivateKey()),
    ),
  );
  const keyFile = new Uint8Array([...salt, ...nonce, ...ct]);
  const withPw: Sibling = (n) =>
    n === "password" ? enc.encode("secret\n") : undefined;
  assertEquals(
    await checkVectorFile(user.address, keyFile, withPw),
    `key file of ${user.address}`,
  );

  // Altered files are refused.
  const bad: [string, string][] = [
    ["genesis.json", encodeSigGenesis(g) + "\n"],
    ["genesis.json", encodeSigGenesis(g).replace(":100", ": 100")],
    ["genesis.json", encodeSigGenesis(g).replace(":100", ":101")],
    ["tx.json", encodeSigTx(tx).replace('"value":3', '"value":4')],
    ["tx.json", encodeSigTx(tx).replace("Z", "+00:00")],
    ["block.store", encodeSigBlock(b1)],
    ["block.store", encodeSigBlock({ ...b1, number: 2n }) + "\n"],
    ["block.json", encodeSigBlock({ ...b1, merkleRoot: "1".repeat(64) })],
    ["other.json", '{"what":1}'],
    ["other.json", "[1,2]"],
  ];
  for (const [name, content] of bad) {
    let refused = false;
    try {
      await checkVectorFile(name, enc.encode(content), sib);
    } catch {
      refused = true;
    }
    assert(refused, `accepted altered ${name}: ${content.slice(0, 60)}`);
  }
  let refused = false;
  try {
    await checkVectorFile(user.address, keyFile, () => enc.encode("wrong"));
  } catch {
    refused = true;
  }
  assert(refused, "opened a key file with a wrong password");
});
