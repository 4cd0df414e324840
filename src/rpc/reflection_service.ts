/**
 * gRPC server reflection (`grpc.reflection.v1` and `v1alpha`), so grpcurl,
 * grpcui or Postman can list, describe and call a node's services without
 * `.proto` files. The answers come from the descriptors the generated code in
 * `gen/` carries, the ones the services are served from, so they cannot drift
 * apart. What a stream costs is bounded by the `MAX_REFLECTION_*` constants.
 *
 * @module
 */
import {
  create,
  type DescFile,
  type DescMessage,
  type DescService,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import * as v1 from "./gen/grpc/reflection/v1/reflection_pb.ts";
import * as v1alpha from "./gen/grpc/reflection/v1alpha/reflection_pb.ts";
import { encodeUtf8 } from "../util/utf8.ts";

/** Requests one reflection stream answers; the next one ends the stream. */
export const MAX_REFLECTION_REQUESTS = 1000;

/** The longest file or symbol name looked up, in UTF-8 bytes. */
export const MAX_REFLECTION_NAME_BYTES = 1024;

/** The largest reflection request message, in bytes. */
export const MAX_REFLECTION_MESSAGE_BYTES = 4096;

/** A reflection request (v1; v1alpha is the same on the wire). */
export type ReflectionRequest = v1.ServerReflectionRequest;
/** A reflection response (v1; v1alpha is the same on the wire). */
export type ReflectionResponse = MessageInitShape<
  typeof v1.ServerReflectionResponseSchema
>;

/**
 * What reflection knows: the services, their files and every file they
 * import, and every name those files define.
 *
 * @example
 * ```ts
 * import { ReflectionIndex } from "./reflection_service.ts";
 * import { Node } from "./gen/node_pb.ts";
 *
 * const index = new ReflectionIndex([Node]);
 * console.log(index.serviceNames()); // ["Node"]
 * console.log(index.fileOfSymbol("Node.PeerDiscover")?.proto.name); // "node.proto"
 * ```
 */
export class ReflectionIndex {
  readonly #services: string[];
  readonly #files = new Map<string, DescFile>();
  readonly #symbols = new Map<string, DescFile>();
  /** The message type names among the symbols. */
  readonly #messages = new Set<string>();
  /** Extensions by the message they extend, then by number. */
  readonly #extensions = new Map<string, Map<number, DescFile>>();
  readonly #encoded = new Map<DescFile, Uint8Array>();

  /** The index of `services`, their files and their files' imports. */
  constructor(services: readonly DescService[]) {
    this.#services = [...new Set(services.map((s) => s.typeName))].sort();
    const queue = services.map((s) => s.file);
    while (queue.length > 0) {
      const file = queue.shift()!;
      if (this.#files.has(file.proto.name)) continue;
      this.#files.set(file.proto.name, file);
      this.#addSymbols(file);
      queue.push(...file.dependencies);
    }
  }

  /**
   * The fully qualified names of the services, sorted.
   *
   * @example
   * ```ts
   * import { ReflectionIndex } from "./reflection_service.ts";
   * import { Block } from "./gen/block_pb.ts";
   * import { Tx } from "./gen/tx_pb.ts";
   *
   * console.log(new ReflectionIndex([Tx, Block]).serviceNames()); // ["Block", "Tx"]
   * ```
   */
  serviceNames(): string[] {
    return [...this.#services];
  }

  /**
   * The file of this name (e.g. `"node.proto"`), if known.
   *
   * @example
   * ```ts
   * import { ReflectionIndex } from "./reflection_service.ts";
   * import { Node } from "./gen/node_pb.ts";
   *
   * console.log(new ReflectionIndex([Node]).fileByName("node.proto") !== undefined); // true
   * ```
   */
  fileByName(name: string): DescFile | undefined {
    return this.#files.get(name);
  }

  /**
   * The file defining a fully qualified symbol: a service, a method
   * (`Service.Method`), a message, a field, an enum, an enum value or an
   * extension. A leading dot is allowed.
   *
   * @example
   * ```ts
   * import { ReflectionIndex } from "./reflection_service.ts";
   * import { Tx } from "./gen/tx_pb.ts";
   *
   * const index = new ReflectionIndex([Tx]);
   * console.log(index.fileOfSymbol("TxSendReq")?.proto.name); // "tx.proto"
   * console.log(index.fileOfSymbol("NoSuchThing")); // undefined
   * ```
   */
  fileOfSymbol(name: string): DescFile | undefined {
    return this.#symbols.get(trimDot(name));
  }

  /**
   * The file defining extension `number` of message type `type`, if any.
   *
   * @example
   * ```ts
   * import { ReflectionIndex } from "./reflection_service.ts";
   * import { Tx } from "./gen/tx_pb.ts";
   *
   * console.log(new ReflectionIndex([Tx]).fileOfExtension("TxSendReq", 100)); // undefined
   * ```
   */
  fileOfExtension(type: string, number: number): DescFile | undefined {
    return this.#extensions.get(trimDot(type))?.get(number);
  }

  /**
   * The extension numbers known for message type `type`, ascending, or
   * undefined when no such message is known.
   *
   * @example
   * ```ts
   * import { ReflectionIndex } from "./reflection_service.ts";
   * import { Tx } from "./gen/tx_pb.ts";
   *
   * console.log(new ReflectionIndex([Tx]).extensionNumbers("TxSendReq")); // []
   * ```
   */
  extensionNumbers(type: string): number[] | undefined {
    const name = trimDot(type);
    if (!this.#messages.has(name)) return undefined;
    return [...(this.#extensions.get(name)?.keys() ?? [])].sort((a, b) =>
      a - b
    );
  }

  /**
   * `file` and the files it imports, directly or not, each as a serialized
   * `FileDescriptorProto`; imports already in `sent` are left out, and the
   * ones returned are added to it (a stream sends each file once).
   *
   * @example
   * ```ts
   * import { ReflectionIndex } from "./reflection_service.ts";
   * import { Node } from "./gen/node_pb.ts";
   *
   * const index = new ReflectionIndex([Node]);
   * const file = index.fileByName("node.proto")!;
   * console.log(index.withImports(file, new Set()).length); // 1
   * ```
   */
  withImports(file: DescFile, sent: Set<string>): Uint8Array[] {
    const out: Uint8Array[] = [this.#encode(file)];
    sent.add(file.proto.name);
    const queue = [...file.dependencies];
    while (queue.length > 0) {
      const dep = queue.shift()!;
      if (sent.has(dep.proto.name)) continue;
      sent.add(dep.proto.name);
      out.push(this.#encode(dep));
      queue.push(...dep.dependencies);
    }
    return out;
  }

  #encode(file: DescFile): Uint8Array {
    let bytes = this.#encoded.get(file);
    if (bytes === undefined) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.#encoded.set(file, bytes);
    }
    return bytes;
  }

  #addSymbols(file: DescFile): void {
    const add = (name: string) => {
      if (!this.#symbols.has(name)) this.#symbols.set(name, file);
    };
    const scopeOf = (name: string) =>
      name.includes(".") ? name.slice(0, name.lastIndexOf(".") + 1) : "";
    for (const service of file.services) {
      add(service.typeName);
      for (const method of service.methods) {
        add(`${service.typeName}.${method.name}`);
      }
    }
    for (const message of messagesOf(file)) {
      add(message.typeName);
      this.#messages.add(message.typeName);
      for (const field of message.fields) {
        add(`${message.typeName}.${field.name}`);
      }
      for (const oneof of message.oneofs) {
        add(`${message.typeName}.${oneof.name}`);
      }
    }
    for (const en of enumsOf(file)) {
      add(en.typeName);
      // Enum values are scoped beside their enum, not inside it.
      for (const value of en.values) add(scopeOf(en.typeName) + value.name);
    }
    for (const ext of extensionsOf(file)) {
      add(ext.typeName);
      const numbers = this.#extensions.get(ext.extendee.typeName) ?? new Map();
      numbers.set(ext.number, file);
      this.#extensions.set(ext.extendee.typeName, numbers);
    }
  }
}

/** The messages of `file`, nested ones included. */
function messagesOf(file: DescFile): DescMessage[] {
  const out: DescMessage[] = [];
  const walk = (messages: readonly DescMessage[]) => {
    for (const m of messages) {
      out.push(m);
      walk(m.nestedMessages);
    }
  };
  walk(file.messages);
  return out;
}

function enumsOf(file: DescFile) {
  return [...file.enums, ...messagesOf(file).flatMap((m) => m.nestedEnums)];
}

function extensionsOf(file: DescFile) {
  return [
    ...file.extensions,
    ...messagesOf(file).flatMap((m) => m.nestedExtensions),
  ];
}

function trimDot(name: string): string {
  return name.startsWith(".") ? name.slice(1) : name;
}

/**
 * The answers to one reflection stream, one per request, in order: the
 * service names, files (each with the imports not sent yet on this stream),
 * extension numbers, or an error response (`NOT_FOUND` for an unknown name,
 * `INVALID_ARGUMENT` for one too long). A request with no question ends the
 * stream with `INVALID_ARGUMENT`, as grpc-go does; one past
 * {@link MAX_REFLECTION_REQUESTS} ends it with `RESOURCE_EXHAUSTED`.
 *
 * @example
 * ```ts
 * import { answerReflection, ReflectionIndex } from "./reflection_service.ts";
 * import { Node } from "./gen/node_pb.ts";
 * import { create } from "@bufbuild/protobuf";
 * import { ServerReflectionRequestSchema } from "./gen/grpc/reflection/v1/reflection_pb.ts";
 *
 * async function* requests() {
 *   yield create(ServerReflectionRequestSchema, {
 *     messageRequest: { case: "listServices", value: "" },
 *   });
 * }
 * for await (const res of answerReflection(new ReflectionIndex([Node]), requests())) {
 *   console.log(res.messageResponse); // the list: Node
 * }
 * ```
 */
export async function* answerReflection(
  index: ReflectionIndex,
  requests: AsyncIterable<ReflectionRequest>,
): AsyncGenerator<ReflectionResponse> {
  const sent = new Set<string>();
  let count = 0;
  for await (const req of requests) {
    if (++count > MAX_REFLECTION_REQUESTS) {
      throw new ConnectError(
        `more than ${MAX_REFLECTION_REQUESTS} requests on one reflection stream; open a new stream`,
        Code.ResourceExhausted,
      );
    }
    yield {
      validHost: req.host,
      originalRequest: req,
      messageResponse: answerOne(index, req, sent),
    };
  }
}

function answerOne(
  index: ReflectionIndex,
  req: ReflectionRequest,
  sent: Set<string>,
): ReflectionResponse["messageResponse"] {
  const files = (file: DescFile | undefined, what: string) =>
    file === undefined ? notFound(`${what} not found`) : {
      case: "fileDescriptorResponse" as const,
      value: { fileDescriptorProto: index.withImports(file, sent) },
    };
  const r = req.messageRequest;
  switch (r.case) {
    case "listServices":
      return {
        case: "listServicesResponse",
        value: { service: index.serviceNames().map((name) => ({ name })) },
      };
    case "fileByFilename":
      return tooLong(r.value, "file name") ??
        files(index.fileByName(r.value), `file ${quote(r.value)}`);
    case "fileContainingSymbol":
      return tooLong(r.value, "symbol") ??
        files(index.fileOfSymbol(r.value), `symbol ${quote(r.value)}`);
    case "fileContainingExtension": {
      const { containingType: type, extensionNumber: n } = r.value;
      return tooLong(type, "type name") ??
        files(
          index.fileOfExtension(type, n),
          `extension ${n} of ${quote(type)}`,
        );
    }
    case "allExtensionNumbersOfType": {
      const long = tooLong(r.value, "type name");
      if (long) return long;
      const numbers = index.extensionNumbers(r.value);
      if (numbers === undefined) {
        return notFound(`message type ${quote(r.value)} not found`);
      }
      return {
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: trimDot(r.value), extensionNumber: numbers },
      };
    }
    default:
      throw new ConnectError(
        "reflection request asks for nothing (no message_request set)",
        Code.InvalidArgument,
      );
  }
}

function notFound(message: string): ReflectionResponse["messageResponse"] {
  return {
    case: "errorResponse",
    value: { errorCode: Code.NotFound, errorMessage: message },
  };
}

/** An INVALID_ARGUMENT error response when `name` is too long. */
function tooLong(
  name: string,
  what: string,
): ReflectionResponse["messageResponse"] | undefined {
  const bytes = encodeUtf8(name).length;
  if (bytes <= MAX_REFLECTION_NAME_BYTES) return undefined;
  return {
    case: "errorResponse",
    value: {
      errorCode: Code.InvalidArgument,
      errorMessage:
        `${what} of ${bytes} bytes is longer than ${MAX_REFLECTION_NAME_BYTES}`,
    },
  };
}

/** A name as an error message shows it: quoted, cut to 100 characters. */
function quote(name: string): string {
  return JSON.stringify(name.length > 100 ? `${name.slice(0, 100)}...` : name);
}

/**
 * Serves reflection (`grpc.reflection.v1.ServerReflection` and
 * `grpc.reflection.v1alpha.ServerReflection`) on `router`, describing every
 * service registered on it so far and the two reflection services: call it
 * after the other services.
 *
 * @example
 * ```ts
 * import { createConnectRouter } from "@connectrpc/connect";
 * import { serveReflection } from "./reflection_service.ts";
 * import { Block } from "./gen/block_pb.ts";
 *
 * const router = createConnectRouter();
 * router.service(Block, {});
 * serveReflection(router);
 * console.log(router.handlers.map((h) => h.requestPath).at(-1));
 * // /grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo
 * ```
 */
export function serveReflection(router: ConnectRouter): void {
  const index = new ReflectionIndex([
    ...router.handlers.map((h) => h.service),
    v1.ServerReflection,
    v1alpha.ServerReflection,
  ]);
  // Small messages: a request is a name or two.
  const options = { readMaxBytes: MAX_REFLECTION_MESSAGE_BYTES };
  router.service(v1.ServerReflection, {
    serverReflectionInfo: (requests) => answerReflection(index, requests),
  }, options);
  router.service(v1alpha.ServerReflection, {
    // The same messages under another package: converted through bytes.
    serverReflectionInfo: (requests) =>
      converted(
        answerReflection(
          index,
          converted(
            requests,
            v1alpha.ServerReflectionRequestSchema,
            v1.ServerReflectionRequestSchema,
          ),
        ),
        v1.ServerReflectionResponseSchema,
        v1alpha.ServerReflectionResponseSchema,
      ),
  }, options);
}

async function* converted<
  From extends DescMessage,
  To extends DescMessage,
>(
  messages: AsyncIterable<MessageInitShape<From>>,
  from: From,
  to: To,
): AsyncGenerator<MessageShape<To>> {
  for await (const m of messages) {
    yield fromBinary(to, toBinary(from, create(from, m)));
  }
}
