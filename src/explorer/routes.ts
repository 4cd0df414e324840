/**
 * The block explorer served on every node's port: `GET /` and its files
 * under `/explorer/`. The page reads the node through its read RPCs from
 * the browser; the node serves only these fixed files, each with a strict
 * Content-Security-Policy (scripts, styles and calls from this origin only;
 * no inline script or style) and `X-Content-Type-Options: nosniff`.
 *
 * @module
 */
import type { HttpAnswer, HttpRoutes } from "../http/http_routes.ts";
import { EXPLORER_ASSETS } from "./assets_gen.ts";
import { encodeUtf8 } from "../util/utf8.ts";

/** The explorer's Content-Security-Policy. */
export const EXPLORER_CSP: string = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  // The page writes text nodes only: any HTML sink (innerHTML, ...) fails.
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join("; ");

/** The headers of every explorer answer. */
export const EXPLORER_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": EXPLORER_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

/**
 * The explorer's GET routes, to merge into a node's plain HTTP routes.
 *
 * @example
 * ```ts
 * import { explorerRoutes } from "./routes.ts";
 *
 * const page = explorerRoutes()["/"]();
 * console.log(page.contentType); // text/html; charset=utf-8
 * ```
 */
export function explorerRoutes(): HttpRoutes {
  const routes: Record<string, () => HttpAnswer> = {};
  for (const asset of EXPLORER_ASSETS) {
    const answer: HttpAnswer = {
      status: 200,
      contentType: asset.contentType,
      body: asset.body,
      headers: EXPLORER_HEADERS,
    };
    routes[asset.path] = () => answer;
  }
  return routes;
}

/**
 * The size in bytes of everything the page loads (its HTML and files).
 *
 * @example
 * ```ts
 * import { explorerSize } from "./routes.ts";
 * console.log(explorerSize() < 200 * 1024); // true
 * ```
 */
export function explorerSize(): number {
  return EXPLORER_ASSETS.reduce((n, a) => n + encodeUtf8(a.body).length, 0);
}
