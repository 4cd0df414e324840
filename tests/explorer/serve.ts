/** The explorer's routes answering one request, as the node's server would. */
import { assert } from "../assert.ts";
import { explorerRoutes } from "../../src/explorer/routes.ts";
import { serveHttpRoute } from "../../src/http/http_routes.ts";

/** What a route wrote: its status, headers and body. */
export interface Served {
  status: number;
  head: Record<string, string | number>;
  body: Uint8Array;
}

/**
 * `method url` served by the explorer's routes, which must know the path.
 *
 * @example
 * ```ts
 * import { serve } from "./serve.ts";
 * console.log(serve("GET", "/").status); // 200
 * ```
 */
export function serve(method: string, url: string): Served {
  const served: Served = { status: 0, head: {}, body: new Uint8Array() };
  const res = {
    writeHead(s: number, h: Record<string, string | number>) {
      served.status = s;
      served.head = h;
    },
    end(b: Uint8Array) {
      served.body = b;
    },
  };
  assert(serveHttpRoute(explorerRoutes(), { method, url }, res));
  return served;
}
