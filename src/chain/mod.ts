/**
 * The chain domain of bcn (`@bcn/bcn/chain`): canonical JSON, times, keys
 * and signatures, transactions, the genesis, blocks, Merkle proofs, events
 * and the state a node keeps, all byte-compatible with the reference Go
 * node.
 *
 * ```ts
 * import { Account, encodeSigTx, timeNow, txHash, verifyTx } from "@bcn/bcn/chain";
 *
 * const alice = Account.create();
 * const tx = alice.signTx({
 *   from: alice.address,
 *   to: "bob",
 *   value: 5n,
 *   nonce: 1n,
 *   time: timeNow(),
 * });
 * console.log(txHash(tx), verifyTx(tx), encodeSigTx(tx));
 * ```
 *
 * @module
 */

export { Account, decodePrivateKey } from "./account.ts";
export {
  type Block,
  blockBytes,
  blockDigest,
  blockHash,
  blockLeaves,
  blockRoot,
  blockSigner,
  decodeSigBlock,
  encodeBlock,
  encodeSigBlock,
  type SigBlock,
  verifyBlock,
} from "./block.ts";
export {
  addressOf,
  keccak256,
  keccak256Hex,
  type PublicKey,
  publicKeyOf,
  randomPrivateKey,
  recover,
  sign,
  SignatureError,
  verifySignature,
} from "./crypto.ts";
export {
  blockEvent,
  decodeEvent,
  encodeEvent,
  type Event,
  EventType,
  txEvent,
} from "./event.ts";
export {
  decodeSigGenesis,
  encodeGenesis,
  encodeSigGenesis,
  type Genesis,
  genesisDigest,
  genesisHash,
  newGenesis,
  type NewGenesisOptions,
  type SigGenesis,
  verifyGenesis,
} from "./genesis.ts";
export {
  DecodeError,
  encodeBytes,
  encodeString,
  encodeU64,
  parseHash,
  toBase64,
  toHex,
  U64_MAX,
} from "./json.ts";
export {
  decodeMerkleProof,
  encodeMerkleProof,
  LEFT,
  merklePair,
  type MerklePos,
  merkleProve,
  merkleRoot,
  type MerkleStep,
  merkleTree,
  merkleVerify,
  RIGHT,
  ZERO_HASH,
} from "./merkle.ts";
export { recoverAddress } from "./signer_cache.ts";
export {
  MAX_BLOCK_TXS,
  MAX_PENDING_PER_SENDER,
  MAX_PENDING_TXS,
  MAX_QUEUED_PER_SENDER,
  MAX_QUEUED_TXS,
  MAX_UNFUNDED_PENDING_TXS,
  QUEUED_TX_TTL_MS,
} from "./tx_pool.ts";
export { decodeSearchTx, encodeSearchTx, type SearchTx } from "./search_tx.ts";
export {
  type ConfirmedState,
  State,
  StateError,
  type StateOptions,
} from "./state.ts";
export {
  compareTime,
  formatTime,
  parseTime,
  type Time,
  timeNow,
} from "./time.ts";
export {
  decodeSigTx,
  encodeSigTx,
  encodeTx,
  type SigTx,
  type Tx,
  txBytes,
  txDigest,
  txHash,
  txSigner,
  verifyTx,
} from "./tx.ts";
export {
  chunkAccounts,
  decodeStateChunk,
  encodeStateChunk,
  STATE_CHUNK_ACCOUNTS,
  STATE_CHUNK_BYTES,
  type StateAccount,
  stateAccounts,
  stateChunks,
  stateHash,
  StateHasher,
  type StateMaps,
} from "./state_hash.ts";
export {
  type Checkpoint,
  checkpointDigest,
  checkpointHash,
  decodeSigCheckpoint,
  DEFAULT_CHECKPOINT_INTERVAL,
  encodeCheckpoint,
  encodeSigCheckpoint,
  MAX_CHECKPOINT_INTERVAL,
  type SigCheckpoint,
  verifyCheckpoint,
} from "./checkpoint.ts";
