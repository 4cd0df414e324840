/**
 * gRPC server reflection: the index of names and files, the answer to each
 * kind of request (and to unknown or too long names), a file's imports sent
 * once per stream, the bounds of one stream, and both versions served
 * through a real server over gRPC next to unchanged services.
 */
import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import {
  file_google_protobuf_api,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  createClient,
  createConnectRouter,
} from "@connectrpc/connect";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import {
  answerReflection,
  MAX_REFLECTION_MESSAGE_BYTES,
  MAX_REFLECTION_NAME_BYTES,
  MAX_REFLECTION_REQUESTS,
  ReflectionIndex,
  type ReflectionRequest,
  type ReflectionResponse,
  serveReflection,
} from "../../src/rpc/reflection_service.ts";
import * as v1 from "../../src/rpc/gen/grpc/reflection/v1/reflection_pb.ts";
import * as v1alpha from "../../src/rpc/gen/grpc/reflection/v1alpha/reflection_pb.ts";
import { Account } from "../../src/rpc/gen/account_pb.ts";
import { Block } from "../../src/rpc/gen/block_pb.ts";
import { Node } from "../../src/rpc/gen/node_pb.ts";
import { Tx } from "../../src/rpc/gen/tx_pb.ts";
import { startServer } from "../../src/rpc/server.ts";
import { PeerTransport } from "../../src/rpc/transport.ts";

const BCN = [Block, Tx, Account, Node];

type Question = ReflectionRequest["messageRequest"];

function request(q: Question, host = ""): ReflectionRequest {
  return create(v1.ServerReflectionRequestSchema, {
    host,
    messageRequest: q,
  });
}

async function* from<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

/** The answers to `questions` on one stream. */
async function ask(
  index: ReflectionIndex,
  ...questions: Question[]
): Promise<ReflectionResponse[]> {
  const out: ReflectionResponse[] = [];
  for await (
    const res of answerReflection(index, from(questions.map((q) => request(q))))
  ) out.push(res);
  return out;
}

/** The file names of a file descriptor answer. */
function fileNames(res: ReflectionResponse): string[] {
  const r = res.messageResponse;
  assert(r?.case === "fileDescriptorResponse", `files, got ${r?.case}`);
  return (r.value.fileDescriptorProto ?? []).map((b) =>
    fromBinary(FileDescriptorProtoSchema, b as Uint8Array).name
  );
}

function errorOf(res: ReflectionResponse): { code?: number; message?: string } {
  const r = res.messageResponse;
  assert(r?.case === "errorResponse", `an error, got ${r?.case}`);
  return { code: r.value.errorCode, message: r.value.errorMessage };
}

/**
 * A service in a proto2 file that imports google/protobuf/api.proto (which
 * imports two more files, one of them importing a third), with a nested
 * enum and an extension of its own message.
 */
function importingService() {
  const proto = create(FileDescriptorProtoSchema, {
    name: "t/t.proto",
    package: "t",
    syntax: "proto2",
    dependency: ["google/protobuf/api.proto"],
    messageType: [{
      name: "M",
      field: [{ name: "id", number: 1, type: 5, label: 1, jsonName: "id" }],
      enumType: [{ name: "Kind", value: [{ name: "K_ONE", number: 0 }] }],
      extensionRange: [{ start: 100, end: 200 }],
    }],
    extension: [{
      name: "note",
      number: 150,
      type: 5,
      label: 1,
      extendee: ".t.M",
      jsonName: "note",
    }],
    service: [{
      name: "S",
      method: [{
        name: "Get",
        inputType: ".t.M",
        outputType: ".google.protobuf.Api",
      }],
    }],
  });
  const registry = createFileRegistry(
    proto,
    (name) =>
      name === file_google_protobuf_api.proto.name
        ? file_google_protobuf_api
        : undefined,
  );
  return registry.getService("t.S")!;
}

Deno.test("the index knows every service, method, message and field by name", () => {
  const index = new ReflectionIndex(BCN);
  assertEquals(index.serviceNames(), ["Account", "Block", "Node", "Tx"]);
  const cases: [string, string | undefined][] = [
    ["Node", "node.proto"],
    ["Node.PeerDiscover", "node.proto"],
    ["Tx.TxSend", "tx.proto"],
    ["TxSendReq", "tx.proto"],
    [".TxSendReq", "tx.proto"],
    ["PeerDiscoverReq.Peer", "node.proto"],
    ["AccountBalanceReq", "account.proto"],
    ["Block.BlockSync", "block.proto"],
    ["Nope", undefined],
    ["Node.Nope", undefined],
    ["", undefined],
  ];
  for (const [symbol, file] of cases) {
    assertEquals(index.fileOfSymbol(symbol)?.proto.name, file, symbol);
  }
  assertEquals(index.fileByName("block.proto")?.services[0].typeName, "Block");
  assertEquals(index.fileByName("nope.proto"), undefined);
});

Deno.test("list_services names the services; the host and request are echoed", async () => {
  const index = new ReflectionIndex(BCN);
  const req = request({ case: "listServices", value: "*" }, "node-a:1122");
  const [res] = await Array.fromAsync(answerReflection(index, from([req])));
  assertEquals(res.validHost, "node-a:1122");
  assertEquals(res.originalRequest, req);
  assertEquals(res.messageResponse, {
    case: "listServicesResponse",
    value: {
      service: ["Account", "Block", "Node", "Tx"].map((name) => ({ name })),
    },
  });
});

Deno.test("a file is the generated code's own descriptor, whole", async () => {
  const index = new ReflectionIndex(BCN);
  const [byName, bySymbol] = await ask(
    index,
    { case: "fileByFilename", value: "tx.proto" },
    { case: "fileContainingSymbol", value: "Node.StreamSubscribe" },
  );
  assertEquals(fileNames(byName), ["tx.proto"]);
  assertEquals(fileNames(bySymbol), ["node.proto"]);
  const r = bySymbol.messageResponse;
  assert(r?.case === "fileDescriptorResponse");
  const file = fromBinary(
    FileDescriptorProtoSchema,
    r.value.fileDescriptorProto![0] as Uint8Array,
  );
  assertEquals(file, Node.file.proto);
  assertEquals(file.service[0].method.map((m) => m.name), [
    "PeerDiscover",
    "StreamSubscribe",
  ]);
});

Deno.test("unknown names get NOT_FOUND, too long ones INVALID_ARGUMENT; the stream goes on", async () => {
  const index = new ReflectionIndex(BCN);
  const long = "x".repeat(MAX_REFLECTION_NAME_BYTES + 1);
  const answers = await ask(
    index,
    { case: "fileContainingSymbol", value: "bcn.Nope" },
    { case: "fileByFilename", value: "nope.proto" },
    {
      case: "fileContainingExtension",
      value: create(v1.ExtensionRequestSchema, {
        containingType: "TxSendReq",
        extensionNumber: 7,
      }),
    },
    { case: "allExtensionNumbersOfType", value: "Nope" },
    { case: "fileContainingSymbol", value: long },
    { case: "fileByFilename", value: long },
    { case: "listServices", value: "" },
  );
  assertEquals(answers.length, 7);
  assertEquals(errorOf(answers[0]), {
    code: Code.NotFound,
    message: 'symbol "bcn.Nope" not found',
  });
  assertEquals(errorOf(answers[1]), {
    code: Code.NotFound,
    message: 'file "nope.proto" not found',
  });
  assertEquals(errorOf(answers[2]), {
    code: Code.NotFound,
    message: 'extension 7 of "TxSendReq" not found',
  });
  assertEquals(errorOf(answers[3]), {
    code: Code.NotFound,
    message: 'message type "Nope" not found',
  });
  for (const [i, what] of [[4, "symbol"], [5, "file name"]] as const) {
    assertEquals(errorOf(answers[i]), {
      code: Code.InvalidArgument,
      message: `${what} of ${
        MAX_REFLECTION_NAME_BYTES + 1
      } bytes is longer than ${MAX_REFLECTION_NAME_BYTES}`,
    });
  }
  assertEquals(answers[6].messageResponse?.case, "listServicesResponse");
});

Deno.test("a file comes with its imports, each sent once per stream", async () => {
  const service = importingService();
  const index = new ReflectionIndex([service]);
  const [first, again, dep, other] = await ask(
    index,
    { case: "fileContainingSymbol", value: "t.S.Get" },
    { case: "fileByFilename", value: "t/t.proto" },
    { case: "fileContainingSymbol", value: "google.protobuf.Type" },
    { case: "fileContainingSymbol", value: "t.M.K_ONE" },
  );
  const all = fileNames(first);
  assertEquals(all[0], "t/t.proto");
  assertEquals(
    new Set(all),
    new Set([
      "t/t.proto",
      "google/protobuf/api.proto",
      "google/protobuf/source_context.proto",
      "google/protobuf/type.proto",
      "google/protobuf/any.proto",
    ]),
  );
  assertEquals(all.length, 5);
  // The asked file always, its imports only once.
  assertEquals(fileNames(again), ["t/t.proto"]);
  assertEquals(fileNames(dep), ["google/protobuf/type.proto"]);
  // An enum value is scoped beside its enum.
  assertEquals(fileNames(other), ["t/t.proto"]);
  // A new stream sends the imports again.
  const [fresh] = await ask(index, {
    case: "fileByFilename",
    value: "t/t.proto",
  });
  assertEquals(fileNames(fresh).length, 5);
});

Deno.test("extensions are found by their type and number", async () => {
  const index = new ReflectionIndex([importingService()]);
  const [numbers, ext, none] = await ask(
    index,
    { case: "allExtensionNumbersOfType", value: ".t.M" },
    {
      case: "fileContainingExtension",
      value: create(v1.ExtensionRequestSchema, {
        containingType: "t.M",
        extensionNumber: 150,
      }),
    },
    { case: "allExtensionNumbersOfType", value: "google.protobuf.Api" },
  );
  assertEquals(numbers.messageResponse, {
    case: "allExtensionNumbersResponse",
    value: { baseTypeName: "t.M", extensionNumber: [150] },
  });
  assertEquals(fileNames(ext)[0], "t/t.proto");
  assertEquals(none.messageResponse, {
    case: "allExtensionNumbersResponse",
    value: { baseTypeName: "google.protobuf.Api", extensionNumber: [] },
  });
});

Deno.test("a stream answers a bounded number of requests, and none asking nothing", async () => {
  const index = new ReflectionIndex(BCN);
  let answered = 0;
  async function* endless() {
    for (let i = 0; i < MAX_REFLECTION_REQUESTS + 10; i++) {
      yield request({ case: "listServices", value: "" });
    }
  }
  const err = await assertRejects(async () => {
    for await (const _ of answerReflection(index, endless())) answered++;
  }, ConnectError);
  assertEquals(answered, MAX_REFLECTION_REQUESTS);
  assertEquals((err as ConnectError).code, Code.ResourceExhausted);
  assert(err.message.includes("open a new stream"), err.message);
  const empty = await assertRejects(
    () => ask(index, { case: undefined }),
    ConnectError,
  );
  assertEquals((empty as ConnectError).code, Code.InvalidArgument);
});

Deno.test("serveReflection adds the two reflection services and changes no other", () => {
  const router = createConnectRouter();
  for (const service of BCN) router.service(service, {});
  const before = router.handlers.map((h) => h.requestPath);
  serveReflection(router);
  const after = router.handlers.map((h) => h.requestPath);
  assertEquals(after.slice(0, before.length), before);
  assertEquals(after.slice(before.length), [
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
  ]);
});

Deno.test("both versions are served over gRPC, and a big request is refused", async () => {
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    routes: (router) => {
      router.service(Node, {
        peerDiscover: (req) => ({ Peers: [req.Peer] }),
      });
      serveReflection(router);
    },
  });
  const transport = new PeerTransport(server.addr, "grpc");
  try {
    const expected = [
      "Node",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
    ];
    for (const version of [v1, v1alpha]) {
      const client = createClient(version.ServerReflection, transport);
      const answers = [];
      for await (
        const res of client.serverReflectionInfo(from([
          { messageRequest: { case: "listServices" as const, value: "" } },
          {
            host: "h",
            messageRequest: {
              case: "fileContainingSymbol" as const,
              value: "grpc.reflection.v1alpha.ServerReflection",
            },
          },
          {
            messageRequest: {
              case: "fileContainingSymbol" as const,
              value: "Nope",
            },
          },
        ]))
      ) answers.push(res);
      const what = version === v1 ? "v1" : "v1alpha";
      assertEquals(answers.length, 3, what);
      const list = answers[0].messageResponse;
      assert(list.case === "listServicesResponse", what);
      assertEquals(list.value.service.map((s) => s.name), expected, what);
      assertEquals(answers[1].validHost, "h");
      const file = answers[1].messageResponse;
      assert(file.case === "fileDescriptorResponse", what);
      assertEquals(
        fromBinary(FileDescriptorProtoSchema, file.value.fileDescriptorProto[0])
          .package,
        "grpc.reflection.v1alpha",
      );
      const error = answers[2].messageResponse;
      assert(error.case === "errorResponse", what);
      assertEquals(error.value.errorCode, Code.NotFound, what);
    }
    // A request larger than a few names is refused before it is read.
    const client = createClient(v1.ServerReflection, transport);
    const big = await assertRejects(async () => {
      for await (
        const _ of client.serverReflectionInfo(from([{
          host: "h".repeat(MAX_REFLECTION_MESSAGE_BYTES),
          messageRequest: { case: "listServices" as const, value: "" },
        }]))
      ) { /* no answer */ }
    }, ConnectError);
    assertEquals((big as ConnectError).code, Code.ResourceExhausted);
    // The other service is served as before.
    const node = createClient(Node, transport);
    assertEquals((await node.peerDiscover({ Peer: "p:1" })).Peers, ["p:1"]);
  } finally {
    transport.close();
    await server.close();
  }
});
