import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../assert.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import { DecodeError } from "../../src/chain/json.ts";
import { UsageError } from "../../src/cli/args.ts";
import {
  describeRpcError,
  NodeError,
  nodeError,
} from "../../src/client/call_errors.ts";
import { requireNode } from "../../src/cli/rpc_errors.ts";
import { networkCause } from "../../src/util/errors.ts";
import { freePort } from "../e2e/helpers.ts";
import { NODE, OWNER, run } from "./harness.ts";

Deno.test("--node is required and must be host:port", async () => {
  await assertRejects(
    () => run("account balance", ["--node", "nohost", "--account", "a"]),
    UsageError,
    '--node: invalid address "nohost": expected host:port',
  );
  assertEquals(requireNode({ node: "[::1]:1122" }), "[::1]:1122");
  assertEquals(requireNode({ node: NODE }), NODE);
  assertThrows(() => requireNode({}), UsageError, "missing --node");
});

Deno.test("ConnectErrors become one line naming the node and the cause", () => {
  const addr = "127.0.0.1:1122";
  assertEquals(
    describeRpcError(addr, new ConnectError("account abc", Code.NotFound)),
    `node ${addr}: not found: account abc`,
  );
  assertEquals(
    describeRpcError(
      addr,
      new ConnectError("tx 1f2e: insufficient funds", Code.FailedPrecondition),
      { [Code.FailedPrecondition]: "tx rejected" },
    ),
    `node ${addr}: tx rejected: tx 1f2e: insufficient funds`,
  );
  assertEquals(
    describeRpcError(
      addr,
      new ConnectError("wrong password\nmore", Code.PermissionDenied),
    ),
    `node ${addr}: permission denied: wrong password`,
  );
  assertEquals(
    describeRpcError(addr, new ConnectError("", Code.Unimplemented)),
    `node ${addr}: not supported by this node`,
  );
  const refused = Object.assign(
    new Error(`connect ECONNREFUSED ${addr}`),
    { code: "ECONNREFUSED" },
  );
  assertEquals(
    describeRpcError(addr, ConnectError.from(refused, Code.Unavailable)),
    `cannot reach node ${addr}: connection refused`,
  );
  const odd = Object.assign(new Error(`odd failure ${addr}`), { code: "EODD" });
  assertEquals(
    describeRpcError(addr, new ConnectError("x", Code.Unknown, {}, [], odd)),
    `cannot reach node ${addr}: odd failure`,
  );
  assertEquals(
    describeRpcError(addr, new DecodeError("tx.sig", "missing")),
    `node ${addr}: bad answer: tx.sig: missing`,
  );
  const mapped = nodeError(addr, new ConnectError("gone", Code.NotFound));
  assert(mapped instanceof NodeError);
  assertEquals(mapped.code, Code.NotFound);
  assertEquals(mapped.message, `node ${addr}: not found: gone`);
  // A command's own errors and programming errors pass unchanged.
  const usage = new UsageError("missing --node");
  assertEquals(nodeError(addr, usage), usage);
  const bug = new TypeError("x is undefined");
  assertEquals(nodeError(addr, bug), bug);
});

Deno.test("a network failure is found in the cause chain, once", () => {
  const reset = Object.assign(new Error("read ECONNRESET"), {
    code: "ECONNRESET",
  });
  const wrapped = new Error("outer", {
    cause: new Error("mid", { cause: reset }),
  });
  assertEquals(networkCause(wrapped), "connection reset");
  assertEquals(networkCause(new Error("plain")), undefined);
  // A cycle in the causes ends the walk.
  const a = new Error("a");
  const b = new Error("b", { cause: a });
  (a as { cause?: unknown }).cause = b;
  assertEquals(networkCause(a), undefined);
});

Deno.test("an unreachable node is one line naming the cause", async () => {
  const addr = `127.0.0.1:${freePort()}`;
  await assertRejects(
    () => run("account balance", ["--node", addr, "--account", OWNER]),
    NodeError,
    `cannot reach node ${addr}: connection refused`,
  );
});
