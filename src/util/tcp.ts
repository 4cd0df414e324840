/**
 * Opening a TCP connection: the one way bcn's own clients dial a peer.
 *
 * @module
 */

/**
 * `Deno.connect` to `hostname:port`, given up when `signal` aborts first
 * (rejecting with its reason; a connection that comes later is closed).
 *
 * @example
 * ```ts
 * import { connectTcp } from "./tcp.ts";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const conn = await connectTcp("127.0.0.1", listener.addr.port);
 * conn.close();
 * ```
 */
export function connectTcp(
  hostname: string,
  port: number,
  signal?: AbortSignal,
): Promise<Deno.TcpConn> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  const connecting = Deno.connect({ hostname, port });
  if (!signal) return connecting;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    connecting.then(
      (conn) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) conn.close();
        else resolve(conn);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
