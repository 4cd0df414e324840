/**
 * Merkle trees over a block's transaction hashes (`docs/FORMAT.md`,
 * section 4), with the reference's exact proof layout.
 *
 * @module
 */
import { keccak256Hex } from "./crypto.ts";
import {
  asHash,
  DecodeError,
  Fields,
  JsonNumber,
  type JsonValue,
  parseJson,
} from "./json.ts";

/** The all-zero hash that fills unused leaf slots. */
export const ZERO_HASH: string = "0".repeat(64);

/** Which side a proof entry's hash is on. */
export type MerklePos = 1 | 2;

/** Left side in a Merkle proof. */
export const LEFT: MerklePos = 1;
/** Right side in a Merkle proof. */
export const RIGHT: MerklePos = 2;

/** One step of a Merkle proof. */
export interface MerkleStep {
  /** A node hash, 64 lowercase hex. */
  readonly hash: string;
  /** 1 when the hash is on the left, 2 on the right. */
  readonly pos: MerklePos;
}

/** Combines two node hashes: `l` alone when `r` is zero. */
export function merklePair(l: string, r: string): string {
  if (r === ZERO_HASH) return l;
  return keccak256Hex(`"${l}${r}"`);
}

/** The whole tree as an array: node i has children 2i+1 and 2i+2. */
export function merkleTree(leaves: readonly string[]): string[] {
  if (leaves.length === 0) throw new RangeError("no leaves");
  let k = 0;
  while (1 << k < leaves.length) k++;
  const first = (1 << k) - 1;
  const tree = new Array<string>(2 * first + 1).fill(ZERO_HASH);
  leaves.forEach((h, i) => tree[first + i] = h);
  for (let i = first - 1; i >= 0; i--) {
    tree[i] = merklePair(tree[2 * i + 1], tree[2 * i + 2]);
  }
  return tree;
}

/** The Merkle root of the leaves. */
export function merkleRoot(leaves: readonly string[]): string {
  return merkleTree(leaves)[0];
}

/**
 * The proof for leaf `leaf` (0-based among the real leaves) in the
 * reference's layout.
 */
export function merkleProve(
  leaves: readonly string[],
  leaf: number,
): MerkleStep[] {
  if (!Number.isInteger(leaf) || leaf < 0 || leaf >= leaves.length) {
    throw new RangeError(`no leaf ${leaf}`);
  }
  const tree = merkleTree(leaves);
  if (tree.length === 1) return [{ hash: tree[0], pos: LEFT }];
  if (tree.length === 3) {
    return [{ hash: tree[1], pos: LEFT }, { hash: tree[2], pos: RIGHT }];
  }
  let i = (tree.length >> 1) + leaf;
  const proof: MerkleStep[] = [];
  if (i % 2 === 0) {
    proof.push({ hash: tree[i - 1], pos: LEFT }, { hash: tree[i], pos: RIGHT });
    i = i - 1;
  } else {
    proof.push({ hash: tree[i], pos: LEFT });
    if (tree[i + 1] !== ZERO_HASH) {
      proof.push({ hash: tree[i + 1], pos: RIGHT });
    }
    i = i + 1;
  }
  while (i > 2) {
    const parent = i % 2 === 0 ? (i - 2) / 2 : (i - 1) / 2;
    const sib = parent % 2 === 0 ? parent - 1 : parent + 1;
    if (tree[sib] !== ZERO_HASH) {
      proof.push({ hash: tree[sib], pos: sib % 2 === 0 ? RIGHT : LEFT });
    }
    i = parent;
  }
  return proof;
}

/** Whether `proof` links transaction hash `tx` to `root`. */
export function merkleVerify(
  tx: string,
  proof: readonly MerkleStep[],
  root: string,
): boolean {
  if (proof.length === 0 || !proof.some((s) => s.hash === tx)) return false;
  let h = proof[0].hash;
  for (const s of proof.slice(1)) {
    h = s.pos === LEFT ? merklePair(s.hash, h) : merklePair(h, s.hash);
  }
  return h === root;
}

/** Canonical JSON of a proof. */
export function encodeMerkleProof(proof: readonly MerkleStep[]): string {
  return `[${
    proof.map((s) => `{"hash":"${s.hash}","pos":${s.pos}}`).join(",")
  }]`;
}

/** Decodes a proof; each position must be 1 or 2. */
export function decodeMerkleProof(
  input: string | Uint8Array,
  path = "proof",
): MerkleStep[] {
  const v: JsonValue = parseJson(input, path);
  if (!Array.isArray(v)) throw new DecodeError(path, "expected an array");
  return v.map((e, i) => {
    const f = new Fields(e, `${path}[${i}]`);
    const pos = f.raw("pos");
    if (
      !(pos instanceof JsonNumber) || (pos.text !== "1" && pos.text !== "2")
    ) {
      throw new DecodeError(f.at("pos"), "expected 1 (left) or 2 (right)");
    }
    return {
      hash: asHash(f.raw("hash"), f.at("hash")),
      pos: Number(pos.text) as MerklePos,
    };
  });
}
