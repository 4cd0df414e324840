/**
 * bcn's stores (`@bcn/bcn/store`): password-encrypted key files, one per
 * account, and the block store (the signed genesis and the blocks, one JSON
 * line each), both in the reference Go node's formats.
 *
 * ```ts
 * import { Account } from "@bcn/bcn/chain";
 * import { listKeys, readKey, writeKey } from "@bcn/bcn/store";
 *
 * const dir = await Deno.makeTempDir();
 * const alice = Account.create();
 * await writeKey(dir, alice, "alice's password");
 * console.log(await listKeys(dir)); // [alice.address]
 * const again = await readKey(dir, alice.address, "alice's password");
 * console.log(again.address === alice.address); // true
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

export {
  BLOCKS_FILE,
  BlockStore,
  BlockStoreError,
  type BlockStoreOptions,
  GENESIS_FILE,
  type ReadBlocksOptions,
  type ReadLinesOptions,
} from "./block_store.ts";
export {
  checkPassword,
  decryptKey,
  encryptKey,
  KeyStoreError,
  type KeyStoreErrorKind,
  listKeys,
  MIN_PASSWORD_BYTES,
  readKey,
  writeKey,
} from "./key_store.ts";
export {
  CHECKPOINT_STATE_FILE,
  CHECKPOINTS_FILE,
  CheckpointStore,
  type CheckpointStoreOptions,
} from "./checkpoint_store.ts";
