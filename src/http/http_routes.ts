/**
 * Plain HTTP GET endpoints for operators, served beside the services
 * (`/status`, `/healthz`, `/metrics`), and the one-line 404 for any other
 * path that is not a service method. An answer never depends on the
 * request's size: the body is never read, the query string is ignored, and
 * the answer is built from what the node already holds.
 *
 * @module
 */
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { messageOf } from "../util/errors.ts";
import { encodeUtf8 } from "../util/utf8.ts";

/** What a route answers. */
export interface HttpAnswer {
  /** The HTTP status, e.g. 200 or 503. */
  status: number;
  /** The `Content-Type`, e.g. `application/json`. */
  contentType: string;
  /** The body. */
  body: string;
  /** More response headers, e.g. `content-security-policy`. */
  headers?: Readonly<Record<string, string>>;
}

/** GET routes by exact path, e.g. `{ "/healthz": () => ... }`. */
export type HttpRoutes = Readonly<Record<string, () => HttpAnswer>>;

/** What is read of a `node:http` or `node:http2` (compatibility) request. */
export interface HttpRequestLike {
  /** The method, e.g. `GET`. */
  readonly method?: string;
  /** The path and query. */
  readonly url?: string;
}

/** What is used of a `node:http` or `node:http2` (compatibility) response. */
export interface HttpResponseLike {
  /** Writes the status line and headers. */
  // deno-lint-ignore no-explicit-any
  writeHead(status: number, headers: any): unknown;
  /** Ends the response with `data`. */
  end(data: Uint8Array): unknown;
}

/**
 * Answers `req` when its path is one of `routes`: the route's answer for
 * GET and HEAD, 405 for any other method. Returns false (nothing written)
 * for any other path.
 *
 * @example
 * ```ts
 * import * as http from "node:http";
 * import { serveHttpRoute } from "./http_routes.ts";
 *
 * const server = http.createServer((req, res) => {
 *   const routes = {
 *     "/healthz": () => ({ status: 200, contentType: "text/plain", body: "ok\n" }),
 *   };
 *   if (!serveHttpRoute(routes, req, res)) {
 *     res.writeHead(404);
 *     res.end();
 *   }
 * });
 * server.close();
 * ```
 */
export function serveHttpRoute(
  routes: HttpRoutes,
  req: HttpRequestLike,
  res: HttpResponseLike,
): boolean {
  const path = pathOf(req);
  if (!Object.hasOwn(routes, path)) return false;
  const method = req.method ?? "";
  if (method !== "GET" && method !== "HEAD") {
    send(res, {
      status: 405,
      contentType: "text/plain; charset=utf-8",
      body: `method ${method} not allowed on ${path}: use GET\n`,
    }, { allow: "GET, HEAD", head: false });
    return true;
  }
  let answer: HttpAnswer;
  try {
    answer = routes[path]();
  } catch (e) {
    answer = {
      status: 500,
      contentType: "text/plain; charset=utf-8",
      body: `${path} failed: ${messageOf(e)}\n`,
    };
  }
  send(res, answer, { head: method === "HEAD" });
  return true;
}

/**
 * The answer for a path that is neither a route nor a service method: 404
 * with one line. Passed to the Connect adapter as its fallback.
 *
 * @example
 * ```ts
 * import * as http from "node:http";
 * import { notFound } from "./http_routes.ts";
 *
 * const server = http.createServer(notFound);
 * server.close();
 * ```
 */
export function notFound(req: HttpRequestLike, res: HttpResponseLike): void {
  send(res, {
    status: 404,
    contentType: "text/plain; charset=utf-8",
    body: `not found: ${pathOf(req).slice(0, 200)}\n`,
  }, { head: req.method === "HEAD" });
}

function pathOf(req: HttpRequestLike): string {
  const url = req.url ?? "";
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}

function send(
  res: HttpResponseLike,
  answer: HttpAnswer,
  options: { allow?: string; head: boolean },
): void {
  const body = encodeUtf8(answer.body);
  const headers: Record<string, string | number> = {
    "content-type": answer.contentType,
    "content-length": body.length,
    "cache-control": "no-store",
  };
  if (options.allow) headers["allow"] = options.allow;
  for (const [k, v] of Object.entries(answer.headers ?? {})) {
    headers[k.toLowerCase()] = v;
  }
  res.writeHead(answer.status, headers);
  res.end(options.head ? new Uint8Array() : body);
}

/** A host name, IPv4 address or bracketed IPv6 address, and a port. */
const HOST_PORT =
  /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The URL of a request from its `Host` (or `:authority`) and its target (or
 * `:path`), or undefined when either is not one. The host must be a plain
 * host and port: with `?`, `#` or `\` in it, the URL's path would no longer
 * be the target's, and a call could reach another handler than the one
 * its target names.
 *
 * @example
 * ```ts
 * import { requestUrl } from "./http_routes.ts";
 * requestUrl("127.0.0.1:1122", "/healthz"); // "http://127.0.0.1:1122/healthz"
 * requestUrl("x?", "/healthz"); // undefined
 * ```
 */
export function requestUrl(host: string, target: string): string | undefined {
  if (!HOST_PORT.test(host) || !target.startsWith("/")) return undefined;
  try {
    return new URL(`http://${host}${target}`).href;
  } catch {
    return undefined;
  }
}

/** A plain-text response. */
export function plain(status: number, text: string): UniversalServerResponse {
  const body = encodeUtf8(text);
  return {
    status,
    header: new Headers({
      "content-type": "text/plain; charset=utf-8",
      "content-length": String(body.length),
    }),
    body: (async function* () {
      yield body;
    })(),
  };
}
