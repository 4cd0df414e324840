/**
 * bcn: a proof-of-authority blockchain node, byte-compatible with the
 * reference Go node of the "blockchain from scratch in Go with gRPC" guide.
 *
 * ## Entry points
 *
 * - {@link Client}: talk to a running node (bcn or reference): balances,
 *   transfers signed on this machine with a key file (the password never
 *   leaves it), searches, Merkle proofs, status and events.
 * - {@link Node}: run a node in your program, as `bcn node start` does.
 * - {@link StateSync}: fetch and verify a chain from peers into a block
 *   store, without serving anything.
 * - Key files ({@link writeKey}, {@link readKey}) and the
 *   {@link BlockStore}; transactions, blocks and the genesis
 *   ({@link SigTx}, {@link SigBlock}, {@link SigGenesis}) with their
 *   canonical encoders and hashes ({@link encodeSigTx}, {@link txHash},
 *   {@link blockHash}, ...).
 *
 * Subpaths hold the rest: `@bcn/bcn/client`, `@bcn/bcn/chain`,
 * `@bcn/bcn/store`, `@bcn/bcn/node` and `@bcn/bcn/cli` (see the end).
 *
 * ### Client
 *
 * ```ts
 * import { Client, txHash } from "@bcn/bcn";
 *
 * await using client = new Client("127.0.0.1:1122");
 * const from = "1bb56caeeef994e303196d588d0e75e9bf756af9c90b0ed880d58fc1f5d77b27";
 * console.log(`balance: ${await client.balance(from)}`);
 * const tx = await client.sign(
 *   { from, to: "8d577d9372092fcdb60a3e493641f1e19b38072798c672011daba6271fad5dc6", value: 5n },
 *   { keyStore: ".keystore1122", password: "the owner's password" },
 * );
 * const { hash } = await client.send(tx);
 * // Wait for the block that confirms it.
 * for await (const event of client.subscribe({ events: ["block"] })) {
 *   if (event.type === "block" && event.block.txs.some((t) => txHash(t) === hash)) break;
 * }
 * const proof = await client.prove(hash);
 * console.log(`tx ${hash}: ${proof.length} proof steps`);
 * ```
 *
 * ### Node
 *
 * ```ts
 * import { Node } from "@bcn/bcn";
 *
 * const node = new Node({
 *   node: "127.0.0.1:1122",
 *   bootstrap: true,
 *   keyStoreDir: ".keystore1122",
 *   blockStoreDir: ".blockstore1122",
 *   chain: "blockchain",
 *   authPass: "the authority's password",
 *   ownerPass: "the owner's password",
 *   balance: 1000n,
 *   periodMs: 1000,
 * });
 * await node.start();
 * // ... serves until stopped:
 * await node.stop();
 * ```
 *
 * ### StateSync
 *
 * ```ts
 * import { StateSync } from "@bcn/bcn";
 *
 * const sync = new StateSync({
 *   bootstrap: false,
 *   seed: "127.0.0.1:1122",
 *   keyStoreDir: ".keystore-sync",
 *   blockStoreDir: ".blockstore-sync",
 *   chain: "blockchain",
 * }, { peers: ["127.0.0.1:1122"] });
 * const state = await sync.syncState();
 * console.log(`synced to block ${state.lastNumber}: ${state.lastHash}`);
 * ```
 *
 * ### Stores and chain types
 *
 * ```ts
 * import { Account, encodeSigTx, timeNow, txHash, verifyTx, writeKey } from "@bcn/bcn";
 *
 * const dir = await Deno.makeTempDir();
 * const alice = Account.create();
 * await writeKey(dir, alice, "alice's password");
 * const tx = alice.signTx({
 *   from: alice.address,
 *   to: "bob",
 *   value: 5n,
 *   nonce: 1n,
 *   time: timeNow(),
 * });
 * console.log(txHash(tx), verifyTx(tx), encodeSigTx(tx));
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * ## Subpaths
 *
 * - `@bcn/bcn/client`: the client's options, signing without a node
 *   (`signTransfer`), input checks.
 * - `@bcn/bcn/chain`: the whole chain domain (Merkle trees, events, the
 *   state, keccak and secp256k1 helpers).
 * - `@bcn/bcn/store`: key-store and block-store details.
 * - `@bcn/bcn/node`: the node's parts (ledger, event bus, verification
 *   pool, status, sync sources).
 * - `@bcn/bcn/cli`: the `bcn` command.
 *
 * @module
 */

export {
  type BlockQuery,
  type CallOptions,
  Client,
  type ClientOptions,
  encodeNodeEvent,
  type NodeEvent,
  type SendResult,
  type SubscribeEventsOptions,
  type TxQuery,
} from "./src/client/client.ts";
export { InputError, NodeError } from "./src/client/call_errors.ts";
export { type KeySource, type Transfer } from "./src/client/sign.ts";
export { Node, type NodeOptions } from "./src/node/node.ts";
export type { NodeConfig } from "./src/node/config.ts";
export type { PeerProtocol } from "./src/rpc/transport.ts";
export type {
  Health,
  NodePhase,
  NodeStatus,
} from "./src/node/observe/status.ts";
export {
  type PeerReader,
  StateSync,
  type StateSyncConfig,
  type StateSyncOptions,
  type SyncBlocksOptions,
  SyncError,
  type SyncErrorKind,
  type SyncErrorOptions,
  type SyncPeers,
  type SyncSource,
} from "./src/node/state_sync.ts";
export {
  KeyStoreError,
  type KeyStoreErrorKind,
  listKeys,
  readKey,
  writeKey,
} from "./src/store/key_store.ts";
export {
  BlockStore,
  BlockStoreError,
  type BlockStoreOptions,
  type ReadBlocksOptions,
  type ReadLinesOptions,
} from "./src/store/block_store.ts";
export { Account } from "./src/chain/account.ts";
export {
  type Block,
  blockHash,
  decodeSigBlock,
  encodeBlock,
  encodeSigBlock,
  type SigBlock,
  verifyBlock,
} from "./src/chain/block.ts";
export {
  decodeSigGenesis,
  encodeSigGenesis,
  type Genesis,
  genesisHash,
  type SigGenesis,
  verifyGenesis,
} from "./src/chain/genesis.ts";
export { DecodeError } from "./src/chain/json.ts";
export {
  decodeMerkleProof,
  encodeMerkleProof,
  type MerklePos,
  type MerkleStep,
  merkleVerify,
} from "./src/chain/merkle.ts";
export {
  decodeSearchTx,
  encodeSearchTx,
  type SearchTx,
} from "./src/chain/search_tx.ts";
export {
  type ConfirmedState,
  State,
  type StateOptions,
} from "./src/chain/state.ts";
export { formatTime, parseTime, type Time, timeNow } from "./src/chain/time.ts";
export {
  decodeSigTx,
  encodeSigTx,
  encodeTx,
  type SigTx,
  type Tx,
  txHash,
  verifyTx,
} from "./src/chain/tx.ts";
