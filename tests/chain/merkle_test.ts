/**
 * Merkle trees and proofs (FORMAT.md section 4), checked against a separate,
 * straightforward implementation of the same description.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { keccak256Hex } from "../../src/chain/crypto.ts";
import { DecodeError, toHex } from "../../src/chain/json.ts";
import {
  decodeMerkleProof,
  encodeMerkleProof,
  LEFT,
  merklePair,
  merkleProve,
  merkleRoot,
  type MerkleStep,
  merkleTree,
  merkleVerify,
  RIGHT,
  ZERO_HASH,
} from "../../src/chain/merkle.ts";

const enc = new TextEncoder();
const ZERO = "0".repeat(64);

// ------------------------------------------- an independent implementation

function refPair(l: string, r: string): string {
  if (r === ZERO) return l;
  return toHex(keccak_256(enc.encode('"' + l + r + '"')));
}

/** The levels of the tree, leaves (padded to 2^k) first, root last. */
function refLevels(leaves: string[]): string[][] {
  let size = 1;
  while (size < leaves.length) size *= 2;
  let level = [...leaves, ...Array(size - leaves.length).fill(ZERO)];
  const levels = [level];
  while (level.length > 1) {
    const next: string[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(refPair(level[i], level[i + 1]));
    }
    levels.push(next);
    level = next;
  }
  return levels;
}

function refRoot(leaves: string[]): string {
  const levels = refLevels(leaves);
  return levels[levels.length - 1][0];
}

/** The array layout: root level first, so node i has children 2i+1, 2i+2. */
function refTree(leaves: string[]): string[] {
  return refLevels(leaves).reverse().flat();
}

/** The reference's proof, written from FORMAT.md's description. */
function refProve(tree: string[], i: number): MerkleStep[] {
  const L = 1, R = 2;
  if (tree.length === 1) return [{ hash: tree[0], pos: L }];
  if (tree.length === 3) {
    return [{ hash: tree[1], pos: L }, { hash: tree[2], pos: R }];
  }
  const proof: MerkleStep[] = [];
  if (i % 2 === 0) {
    proof.push({ hash: tree[i - 1], pos: L }, { hash: tree[i], pos: R });
    i = i - 1;
  } else {
    proof.push({ hash: tree[i], pos: L });
    if (tree[i + 1] !== ZERO) proof.push({ hash: tree[i + 1], pos: R });
    i = i + 1;
  }
  for (;;) {
    const parent = i % 2 === 0 ? (i - 2) / 2 : (i - 1) / 2;
    const sib = parent % 2 === 0 ? parent - 1 : parent + 1;
    if (tree[sib] !== ZERO) {
      proof.push({ hash: tree[sib], pos: sib % 2 === 0 ? R : L });
    }
    i = sib;
    if (sib === 1 || sib === 2) break;
  }
  return proof;
}

function refVerify(t: string, p: MerkleStep[], root: string): boolean {
  if (!p.some((e) => e.hash === t)) return false;
  let h = p[0].hash;
  for (const e of p.slice(1)) {
    h = e.pos === 1 ? refPair(e.hash, h) : refPair(h, e.hash);
  }
  return h === root;
}

function leavesOf(n: number, tag = "tx"): string[] {
  return Array.from({ length: n }, (_, i) => keccak256Hex(`${tag} ${i}`));
}

const SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9];

// -------------------------------------------------------------------- tests

Deno.test("pair: keccak of the 130-byte quoted hex string; l alone for zero r", () => {
  const l = keccak256Hex("l");
  const r = keccak256Hex("r");
  const text = `"${l}${r}"`;
  assertEquals(enc.encode(text).length, 130);
  assertEquals(merklePair(l, r), toHex(keccak_256(enc.encode(text))));
  assertEquals(merklePair(l, r), keccak256Hex(JSON.stringify(l + r)));
  assert(merklePair(l, r) !== merklePair(r, l));
  assertEquals(merklePair(l, ZERO_HASH), l);
  // A zero left side is hashed, not skipped.
  assert(merklePair(ZERO_HASH, r) !== r);
  assertEquals(ZERO_HASH, ZERO);
});

Deno.test("root: equals a level-by-level implementation for n = 1..9", () => {
  for (const n of SIZES) {
    const leaves = leavesOf(n);
    assertEquals(merkleRoot(leaves), refRoot(leaves), `n = ${n}`);
    assertEquals(merkleTree(leaves), refTree(leaves), `n = ${n}`);
    let k = 0;
    while (2 ** k < n) k++;
    assertEquals(merkleTree(leaves).length, 2 ** (k + 1) - 1);
  }
  // Order matters.
  const l = leavesOf(3);
  assert(merkleRoot(l) !== merkleRoot([l[1], l[0], l[2]]));
});

Deno.test("root: small trees by hand", () => {
  const [a, b, c] = leavesOf(3);
  assertEquals(merkleRoot([a]), a);
  assertEquals(merkleRoot([a, b]), merklePair(a, b));
  // n = 3: the lone right leaf passes up unchanged.
  assertEquals(merkleRoot([a, b, c]), merklePair(merklePair(a, b), c));
  assertThrows(() => merkleRoot([]), RangeError);
});

Deno.test("prove: the reference's exact proof, verified, for every leaf of n = 1..9", () => {
  for (const n of SIZES) {
    const leaves = leavesOf(n);
    const tree = refTree(leaves);
    const root = refRoot(leaves);
    const first = (tree.length - 1) / 2;
    for (let i = 0; i < n; i++) {
      const proof = merkleProve(leaves, i);
      assertEquals(proof, refProve(tree, first + i), `n = ${n}, leaf ${i}`);
      assert(merkleVerify(leaves[i], proof, root), `n = ${n}, leaf ${i}`);
      assert(refVerify(leaves[i], proof, root));
      // No zero hash is ever part of a proof.
      assert(proof.every((s) => s.hash !== ZERO));
      assert(proof.every((s) => s.pos === LEFT || s.pos === RIGHT));
    }
  }
});

Deno.test("prove: n = 1 and n = 2 layouts", () => {
  const [a, b] = leavesOf(2);
  assertEquals(merkleProve([a], 0), [{ hash: a, pos: LEFT }]);
  assert(merkleVerify(a, merkleProve([a], 0), a));
  for (const i of [0, 1]) {
    assertEquals(merkleProve([a, b], i), [
      { hash: a, pos: LEFT },
      { hash: b, pos: RIGHT },
    ]);
  }
});

Deno.test("prove: only real leaves can be proved", () => {
  const leaves = leavesOf(5);
  for (const i of [-1, 5, 7, 1.5, NaN]) {
    assertThrows(() => merkleProve(leaves, i), RangeError);
  }
  // The zero hash of an unused slot never verifies.
  const root = merkleRoot(leaves);
  for (let i = 0; i < 5; i++) {
    assert(!merkleVerify(ZERO, merkleProve(leaves, i), root));
  }
});

Deno.test("verify: tampered proofs fail", () => {
  const other = keccak256Hex("other");
  for (const n of SIZES) {
    const leaves = leavesOf(n);
    const root = merkleRoot(leaves);
    for (let i = 0; i < n; i++) {
      const proof = merkleProve(leaves, i);
      const where = `n = ${n}, leaf ${i}`;
      for (let j = 0; j < proof.length; j++) {
        // A changed hash.
        const changed = proof.map((s, k) =>
          k === j ? { ...s, hash: other } : s
        );
        assert(!merkleVerify(leaves[i], changed, root), `${where}, hash ${j}`);
        // A flipped position (the first entry's position is not used).
        if (j > 0) {
          const flipped = proof.map((s, k) =>
            k === j ? { ...s, pos: s.pos === LEFT ? RIGHT : LEFT } : s
          );
          assert(!merkleVerify(leaves[i], flipped, root), `${where}, pos ${j}`);
        }
        // A dropped step.
        const dropped = proof.filter((_, k) => k !== j);
        assert(!merkleVerify(leaves[i], dropped, root), `${where}, drop ${j}`);
      }
      // An extra step.
      assert(
        !merkleVerify(leaves[i], [...proof, { hash: other, pos: RIGHT }], root),
      );
      // A wrong root.
      assert(!merkleVerify(leaves[i], proof, other));
      assert(!merkleVerify(leaves[i], [], root));
    }
  }
});

Deno.test("verify: a proof for a different tx hash fails", () => {
  for (const n of SIZES) {
    const leaves = leavesOf(n);
    const root = merkleRoot(leaves);
    for (let i = 0; i < n; i++) {
      const proof = merkleProve(leaves, i);
      assert(!merkleVerify(keccak256Hex("not in block"), proof, root));
      assert(!merkleVerify(leavesOf(1, "elsewhere")[0], proof, root));
      // A leaf of the block that the proof does not contain.
      for (const other of leaves) {
        if (!proof.some((s) => s.hash === other)) {
          assert(!merkleVerify(other, proof, root), `n = ${n}, leaf ${i}`);
        }
      }
    }
  }
  // The verification rule only asks that t appear in the proof: the proof of
  // a leaf also verifies its sibling leaf, as in the reference.
  const leaves = leavesOf(4);
  assert(merkleVerify(leaves[1], merkleProve(leaves, 0), merkleRoot(leaves)));
  // Matching is on the exact lowercase text.
  assert(
    !merkleVerify(
      leaves[0].toUpperCase(),
      merkleProve(leaves, 0),
      merkleRoot(leaves),
    ),
  );
});

Deno.test("proof JSON: round trip and exact form", () => {
  const leaves = leavesOf(6);
  const proof = merkleProve(leaves, 4);
  const text = encodeMerkleProof(proof);
  assertEquals(
    text,
    "[" + proof.map((s) => `{"hash":"${s.hash}","pos":${s.pos}}`).join(",") +
      "]",
  );
  assertEquals(decodeMerkleProof(text), proof);
  assertEquals(encodeMerkleProof(decodeMerkleProof(text)), text);
  assertEquals(decodeMerkleProof(enc.encode(text)), proof);
  assertEquals(encodeMerkleProof([]), "[]");
  // Non-canonical input: spaces, field order, uppercase hashes, extra fields.
  const messy = " [ " +
    proof.map((s) =>
      `{ "pos" : ${s.pos} , "x":1, "hash" : "${s.hash.toUpperCase()}" }`
    ).join(" , ") + " ] ";
  assertEquals(decodeMerkleProof(messy), proof);
  assert(merkleVerify(leaves[4], decodeMerkleProof(messy), merkleRoot(leaves)));
});

Deno.test("proof JSON: pos other than 1 or 2 and bad hashes rejected", () => {
  const h = leavesOf(1)[0];
  for (
    const pos of ["0", "3", '"1"', "1.0", "01", "-1", "1e0", "null", "true"]
  ) {
    const e = assertThrows(
      () => decodeMerkleProof(`[{"hash":"${h}","pos":${pos}}]`),
      DecodeError,
    );
    assertEquals(
      e.message,
      pos === "null"
        ? "proof[0].pos: missing"
        : "proof[0].pos: expected 1 (left) or 2 (right)",
    );
  }
  assertThrows(
    () => decodeMerkleProof(`[{"hash":"${h}","pos":1},{"hash":"${h}"}]`),
    DecodeError,
    "proof[1].pos: missing",
  );
  assertThrows(
    () => decodeMerkleProof(`[{"hash":"${h.slice(1)}","pos":1}]`),
    DecodeError,
    "proof[0].hash: expected a hash",
  );
  assertThrows(
    () => decodeMerkleProof(`{"hash":"${h}","pos":1}`),
    DecodeError,
    "proof: expected an array",
  );
  assertThrows(() => decodeMerkleProof("[1]"), DecodeError, "proof[0]");
  assertThrows(
    () => decodeMerkleProof(`[{"hash":"${h}","pos":1}] x`),
    DecodeError,
  );
});
