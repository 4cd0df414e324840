/**
 * grpcurl against a real `bcn` node with no `.proto` files: what server
 * reflection is for. grpcurl (built here from source with Go, pinned by
 * `grpcurl/go.mod`) lists the node's services and the reflection service,
 * describes a service and a message, reads an account's balance, and gets
 * "not found" for a name the node does not have.
 *
 * Needs the Go toolchain (ignored, saying so, without it) and, to build
 * grpcurl, the Go module proxy.
 *
 * @module
 */
import { assert, assertEquals } from "../assert.ts";
import {
  bootstrapArgs,
  freePort,
  startBcn,
  withTempDir,
} from "../e2e/helpers.ts";
import { goTool, hasGo } from "./go_tool.ts";
import { decodeUtf8 } from "../../src/util/utf8.ts";

/** How long one grpcurl run may take. */
const RUN_TIMEOUT_MS = 30_000;

/** grpcurl at the version `grpcurl/go.mod` pins, built once per process. */
const GRPCURL = goTool(
  "grpcurl",
  "./grpcurl/",
  "github.com/fullstorydev/grpcurl/cmd/grpcurl",
);

/** What one grpcurl run printed, and how it exited. */
interface GrpcurlRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `grpcurl -plaintext ...args` (with the server address in `args`). */
async function grpcurl(bin: string, args: string[]): Promise<GrpcurlRun> {
  const out = await new Deno.Command(bin, {
    args: ["-plaintext", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(RUN_TIMEOUT_MS),
  }).output();
  return {
    code: out.code,
    stdout: decodeUtf8(out.stdout),
    stderr: decodeUtf8(out.stderr),
  };
}

/** The run's output, failing with what grpcurl said when it failed. */
function ok(run: GrpcurlRun, what: string): string {
  assertEquals(run.code, 0, `${what}: ${run.stderr}${run.stdout}`);
  return run.stdout;
}

const GO = await hasGo();
if (!GO) console.log("grpcurl tests ignored: no Go toolchain on PATH");

Deno.test({
  name: "grpcurl lists, describes and calls a node with no proto files",
  ignore: !GO,
  fn: async () => {
    const bin = await GRPCURL.build();
    await withTempDir(async (dir) => {
      const addr = `127.0.0.1:${freePort()}`;
      const node = await startBcn(bootstrapArgs(addr, { dir, balance: 500n }), {
        cwd: dir,
      });
      try {
        const seen = await node.waitFor(`<=> gRPC ${addr}\n`);
        const owner = seen.match(/^owner\s+([0-9a-f]{64})$/m)?.[1];
        assert(owner, `the owner's address in: ${seen}`);

        const list = ok(await grpcurl(bin, [addr, "list"]), "list");
        assertEquals(list.trim().split("\n"), [
          "Account",
          "Block",
          "Node",
          "Tx",
          "bcn.Checkpoint",
          "grpc.reflection.v1.ServerReflection",
          "grpc.reflection.v1alpha.ServerReflection",
        ]);

        const service = ok(
          await grpcurl(bin, [addr, "describe", "Account"]),
          "describe Account",
        );
        assert(service.startsWith("Account is a service:"), service);
        assert(
          service.includes(
            "rpc AccountBalance ( .AccountBalanceReq ) returns ( .AccountBalanceRes );",
          ),
          service,
        );
        const message = ok(
          await grpcurl(bin, [addr, "describe", "AccountBalanceReq"]),
          "describe AccountBalanceReq",
        );
        assert(message.includes("string Address = 1;"), message);

        const balance = ok(
          await grpcurl(bin, [
            "-d",
            JSON.stringify({ Address: owner }),
            addr,
            "Account/AccountBalance",
          ]),
          "Account/AccountBalance",
        );
        assertEquals(JSON.parse(balance), { Balance: "500" });

        const missing = await grpcurl(bin, [addr, "describe", "bcn.Nope"]);
        assert(missing.code !== 0, "describe of an unknown name fails");
        assert(
          missing.stderr.includes("Symbol not found: bcn.Nope"),
          missing.stderr,
        );
        const res = await node.stop();
        assertEquals(res.code, 0, `the node's exit: ${res.stderr}`);
      } finally {
        await node.stop();
      }
    });
  },
});
