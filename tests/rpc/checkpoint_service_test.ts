import { assertEquals, assertRejects } from "../assert.ts";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { SigCheckpoint } from "../../src/chain/checkpoint.ts";
import {
  type CheckpointBackend,
  checkpointMethods,
} from "../../src/rpc/checkpoint_service.ts";
import { CheckpointSyncReqSchema } from "../../src/rpc/gen/checkpoint_pb.ts";

const CHECKPOINT: SigCheckpoint = {
  chain: "test",
  genesis: "00".repeat(32),
  interval: 10n,
  number: 10n,
  block: "11".repeat(32),
  state: "22".repeat(32),
  accounts: 1n,
  sig: new Uint8Array(65),
};

async function sync(backend: CheckpointBackend, state: boolean) {
  const ctx = { signal: new AbortController().signal } as HandlerContext;
  const req = create(CheckpointSyncReqSchema, { Number: 0n, State: state });
  const out = [];
  for await (const res of checkpointMethods(backend).checkpointSync(req, ctx)) {
    out.push(res);
  }
  return out;
}

/** The error `sync` ends with. */
async function failure(
  backend: CheckpointBackend,
  state: boolean,
): Promise<ConnectError> {
  return await assertRejects(
    () => sync(backend, state),
    ConnectError,
  ) as ConnectError;
}

Deno.test("CheckpointSync names no path of the node's when the state fails", async () => {
  const failing = (message: string): CheckpointBackend => ({
    served: () => CHECKPOINT,
    get: () => undefined,
    readState: () => Promise.reject(new Error(message)),
  });
  const err = await failure(
    failing(
      "Permission denied (os error 13): open '/srv/bcn/checkpoint.state'",
    ),
    true,
  );
  assertEquals(err.code, Code.Internal);
  assertEquals(
    err.rawMessage,
    "cannot read the checkpoint state: Permission denied",
  );
});

Deno.test("CheckpointSync: a chunk that fails is Internal, without paths", async () => {
  const backend: CheckpointBackend = {
    served: () => CHECKPOINT,
    get: () => undefined,
    readState: () =>
      Promise.resolve({
        block: new Uint8Array([1]),
        chunks: (async function* () {
          yield new Uint8Array([2]);
          throw new Error("bad line in '/srv/bcn/checkpoint.state'");
        })(),
      }),
  };
  const err = await failure(backend, true);
  assertEquals(err.code, Code.Internal);
  assertEquals(
    err.rawMessage,
    "cannot read the checkpoint state: bad line in (path)",
  );
});

Deno.test("CheckpointSync: the record alone when no state is kept", async () => {
  const backend: CheckpointBackend = {
    served: () => CHECKPOINT,
    get: () => undefined,
    readState: () => Promise.resolve(undefined),
  };
  const out = await sync(backend, false);
  assertEquals(out.length, 1);
  assertEquals(out[0].Block, undefined);
  const err = await failure(backend, true);
  assertEquals(err.code, Code.NotFound);
});
