/**
 * The RPC server: the Connect services (gRPC, gRPC-Web and Connect) and the
 * plain GET routes, served on one port by bcn's own HTTP/1.1 and HTTP/2
 * (`../http/listener.ts`). A call to a method no service has gets the
 * protocol's own "unimplemented" answer.
 *
 * @module
 */

import {
  Code,
  ConnectError,
  type ConnectRouter,
  createConnectRouter,
  createContextValues,
  type Interceptor,
} from "@connectrpc/connect";
import {
  codeToHttpStatus,
  contentTypeRegExp as connectContentType,
  endStreamFlag,
  endStreamToJson,
  errorToJsonBytes,
  parseContentType as parseConnectContentType,
} from "@connectrpc/connect/protocol-connect";
import {
  contentTypeRegExp as grpcContentType,
  setTrailerStatus,
} from "@connectrpc/connect/protocol-grpc";
import { contentTypeRegExp as grpcWebContentType } from "@connectrpc/connect/protocol-grpc-web";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import type {
  UniversalHandler,
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { MAX_MESSAGE_BYTES } from "./message_limit.ts";
import { CLIENT_ADDRESS } from "./call_context.ts";
import { addressKey, type ConnectionLimits } from "../http/conn_limits.ts";
import { BodyBudget } from "./body_budget.ts";
import type { H2Limits } from "../http/h2_limits.ts";
import {
  type HttpResponseLike,
  type HttpRoutes,
  notFound,
  plain,
  serveHttpRoute,
} from "../http/http_routes.ts";
import { type HttpServer, listenHttp } from "../http/listener.ts";
import { encodeUtf8 } from "../util/utf8.ts";

/** Options of {@link startServer}. */
export interface ServerOptions {
  /** Address to bind, e.g. `"127.0.0.1"` or `"0.0.0.0"`. */
  hostname: string;
  /** Port to bind; `0` picks a free port (see {@link RpcServer.port}). */
  port: number;
  /** Registers the services, e.g. `(r) => r.service(Block, impl)`. */
  routes: (router: ConnectRouter) => void;
  /**
   * Plain GET endpoints served before the services, by exact path (the
   * operators' `/status`, `/healthz`, `/metrics`); see `http_routes.ts`.
   */
  httpRoutes?: HttpRoutes;
  /** Interceptors of every served call, e.g. for metrics. */
  interceptors?: Interceptor[];
  /** Aborting this signal closes the server (like {@link RpcServer.close}). */
  signal?: AbortSignal;
  /**
   * How long {@link RpcServer.close} lets in-flight calls finish before it
   * destroys the remaining connections. Default 1000 ms.
   */
  closeGraceMs?: number;
  /**
   * Connection bounds and timeouts (see `conn_limits.ts`): per address, in
   * total, time to the first request, idle time, and which addresses get
   * room when the server is nearly full. Defaults for every field.
   */
  limits?: ConnectionLimits;
  /** HTTP/2 bounds (see `../http/h2_limits.ts`); defaults for every field. */
  h2?: H2Limits;
  /**
   * Request body bytes held toward incomplete messages, on the node and
   * per address (see `body_budget.ts`, whose constants are the defaults).
   */
  bodyBytes?: { perNode?: number; perAddress?: number };
  /** Where the server reports trouble with its port (one line each). */
  onWarning?: (message: string) => void;
}

/**
 * A running RPC server returned by {@link startServer}: its port and
 * address, `close()` and the connection counters.
 */
export type RpcServer = HttpServer;

/**
 * Starts an RPC server on one port for gRPC, gRPC-Web and Connect over
 * cleartext HTTP/2 and HTTP/1.1.
 *
 * Rejects with a one-line Error such as
 * `cannot listen on 127.0.0.1:1122: address already in use` when the port
 * cannot be bound.
 *
 * @example
 * ```ts
 * import { startServer } from "./server.ts";
 * import { Block } from "./gen/block_pb.ts";
 *
 * const server = await startServer({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   routes: (router) => {
 *     router.service(Block, {
 *       genesisSync: () => ({ Genesis: new Uint8Array() }),
 *     });
 *   },
 * });
 * console.log(`listening on ${server.addr}`);
 * await server.close();
 * ```
 */
export function startServer(options: ServerOptions): Promise<RpcServer> {
  // One set of Connect handlers for HTTP/1.1 and HTTP/2. Bounded messages,
  // no compression: one request cannot make the node allocate more than
  // MAX_MESSAGE_BYTES.
  const router = createConnectRouter({
    interceptors: options.interceptors,
    readMaxBytes: MAX_MESSAGE_BYTES,
    acceptCompression: [],
  });
  options.routes(router);
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, h]));
  const handle = universalHandler(handlers, options.httpRoutes ?? {});
  const bodies = new BodyBudget(
    options.bodyBytes?.perNode,
    options.bodyBytes?.perAddress,
  );
  return listenHttp({
    hostname: options.hostname,
    port: options.port,
    // Handlers see the connection's peer address under CLIENT_ADDRESS.
    handle: async (req, client) => {
      // The HTTP servers always hand over a byte stream.
      const metered = bodies.meter(req.body as AsyncIterable<Uint8Array>, {
        key: addressKey(client ?? ""),
        contentType: req.header.get("content-type") ?? "",
      });
      req.signal.addEventListener("abort", metered.release, { once: true });
      let res: UniversalServerResponse;
      try {
        res = await handle({
          ...req,
          body: metered.body,
          contextValues: createContextValues().set(CLIENT_ADDRESS, client),
        });
      } catch (e) {
        metered.release();
        throw e;
      }
      // Most handlers read their whole body first: nothing left to hold,
      // and the response goes out as it is.
      return metered.released ? res : releasedAfter(res, metered.release);
    },
    signal: options.signal,
    closeGraceMs: options.closeGraceMs,
    limits: options.limits,
    h2: options.h2,
    onWarning: options.onWarning,
  });
}

/**
 * What answers a request, HTTP/1.1 or HTTP/2: the Connect services (gRPC,
 * gRPC-Web and Connect), the plain GET routes, "unimplemented" in the
 * caller's protocol for a method no service has, and 404 for anything else.
 */
function universalHandler(
  handlers: Map<string, UniversalHandler>,
  httpRoutes: HttpRoutes,
): (req: UniversalServerRequest) => Promise<UniversalServerResponse> {
  return async (req) => {
    const url = new URL(req.url);
    const handler = handlers.get(url.pathname);
    if (handler && !Object.hasOwn(httpRoutes, url.pathname)) {
      return await handler(req);
    }
    // Answered once the request is whole, as a handler answers: a request
    // whose body breaks the protocol gets its error, not an answer first.
    await discard(req.body as AsyncIterable<Uint8Array>, MAX_DISCARDED_BYTES);
    if (!Object.hasOwn(httpRoutes, url.pathname)) {
      const answer = unimplemented(req, url.pathname);
      if (answer) return answer;
    }
    // The GET routes and the 404 answer through a small response object.
    let answer: UniversalServerResponse = plain(500, "no answer\n");
    const res: HttpResponseLike = {
      writeHead(status: number, headers: Record<string, string | number>) {
        answer = { status, header: new Headers() };
        for (const [k, v] of Object.entries(headers)) {
          answer.header!.set(k, String(v));
        }
        return res;
      },
      end(body: Uint8Array) {
        answer.body = (async function* () {
          yield body;
        })();
      },
    };
    const like = { method: req.method, url: url.pathname + url.search };
    if (!serveHttpRoute(httpRoutes, like, res)) notFound(like, res);
    return answer;
  };
}

/**
 * `res`, calling `release` once its body has been sent (or at once when it
 * has none): by then the handler holds no request bytes of its own.
 */
function releasedAfter(
  res: UniversalServerResponse,
  release: () => void,
): UniversalServerResponse {
  const body = res.body;
  if (body === undefined) {
    release();
    return res;
  }
  return {
    ...res,
    body: (async function* () {
      try {
        yield* body;
      } finally {
        release();
      }
    })(),
  };
}

/** Body bytes read and dropped before a plain answer, at most. */
const MAX_DISCARDED_BYTES = 64 * 1024;

/** Reads `body` to its end, or until `max` bytes; nothing is kept. */
async function discard(
  body: AsyncIterable<Uint8Array>,
  max: number,
): Promise<void> {
  let seen = 0;
  for await (const chunk of body) {
    seen += chunk.length;
    if (seen > max) return;
  }
}

/** The path of an RPC method: `/package.Service/Method`. */
const METHOD_PATH = /^\/[A-Za-z_][\w.]*\/[A-Za-z_]\w*$/;

/**
 * The "unimplemented" answer to an RPC call of a method no service has, in
 * the protocol the call speaks (by its content type), as gRPC and Connect
 * servers give it; undefined when the request is no RPC call.
 */
function unimplemented(
  req: UniversalServerRequest,
  path: string,
): UniversalServerResponse | undefined {
  if (req.method !== "POST" || !METHOD_PATH.test(path)) return undefined;
  const type = req.header.get("content-type") ?? "";
  const error = new ConnectError(
    `method ${path} is not implemented`,
    Code.Unimplemented,
  );
  const header = new Headers({ "content-type": type.split(";")[0] });
  if (grpcContentType.test(type) || grpcWebContentType.test(type)) {
    // A trailers-only response.
    return { status: 200, header: setTrailerStatus(header, error) };
  }
  if (connectContentType.test(type)) {
    if (parseConnectContentType(type)?.stream) {
      // A Connect stream ends with an end-of-stream message.
      const json = endStreamToJson(new Headers(), error, undefined);
      return {
        status: 200,
        header,
        body: once(encodeEnvelope(
          endStreamFlag,
          encodeUtf8(JSON.stringify(json)),
        )),
      };
    }
    return {
      status: codeToHttpStatus(Code.Unimplemented),
      header: new Headers({ "content-type": "application/json" }),
      body: once(errorToJsonBytes(error, undefined)),
    };
  }
  return undefined;
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}
