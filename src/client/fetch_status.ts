/**
 * A node's status over HTTP/1.1 (`GET /status` on its port), bounded in
 * size and time, with one-line errors.
 *
 * @module
 */
import { decodeStatus, type NodeStatus } from "../node/observe/status.ts";
import { splitHostPort } from "../rpc/peer_address.ts";
import { concatBytes } from "../util/bytes.ts";
import { firstLine, messageOf } from "../util/errors.ts";
import { decodeUtf8 } from "../util/utf8.ts";
import { NodeError } from "./call_errors.ts";

/** How long a status request waits for an answer by default. */
export const STATUS_TIMEOUT_MS = 10_000;
/** The largest status answer read, so a wrong server cannot flood a client. */
const MAX_STATUS_BYTES = 1 << 20;

/** Options of {@link fetchStatus}. */
export interface FetchStatusOptions {
  /** How long to wait for the answer; {@link STATUS_TIMEOUT_MS} by default. */
  timeoutMs?: number;
  /** Cancels the request. */
  signal?: AbortSignal;
}

/**
 * Asks node `addr` for its status; resolves to the decoded status and the
 * node's JSON answer (one line), or throws a one-line {@link NodeError} when
 * the node cannot be reached or answers something else than a status.
 *
 * @example
 * ```ts ignore
 * import { fetchStatus } from "./fetch_status.ts";
 *
 * const { status } = await fetchStatus("127.0.0.1:1122");
 * console.log(status.lastBlock.number);
 * ```
 */
export async function fetchStatus(
  addr: string,
  options: FetchStatusOptions = {},
): Promise<{ status: NodeStatus; text: string }> {
  const { hostname, port } = splitHostPort(addr);
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const timeoutMs = options.timeoutMs ?? STATUS_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal
    ? AbortSignal.any([options.signal, timeout])
    : timeout;
  let res: Response;
  try {
    // A redirect is answered as it is: the node does not choose what else
    // this client fetches.
    res = await fetch(`http://${host}:${port}/status`, {
      signal,
      redirect: "manual",
    });
  } catch (e) {
    throw new NodeError(
      `cannot reach node ${addr}: ${fetchFailure(e, timeoutMs)}`,
    );
  }
  const text = await readBounded(res, addr, timeoutMs);
  if (res.status !== 200) {
    throw new NodeError(
      `node ${addr}: /status answered ${res.status}: ${
        firstLine(text).slice(0, 200)
      }`,
    );
  }
  try {
    return { status: decodeStatus(text), text: text.trim() };
  } catch (e) {
    throw new NodeError(`node ${addr}: bad answer: ${messageOf(e)}`);
  }
}

async function readBounded(
  res: Response,
  addr: string,
  timeoutMs: number,
): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body ?? []) {
      size += chunk.length;
      if (size > MAX_STATUS_BYTES) {
        throw new NodeError(
          `node ${addr}: bad answer: more than ${MAX_STATUS_BYTES} bytes`,
        );
      }
      chunks.push(chunk);
    }
  } catch (e) {
    await res.body?.cancel().catch(() => {});
    if (e instanceof NodeError) throw e;
    throw new NodeError(
      `cannot reach node ${addr}: ${fetchFailure(e, timeoutMs)}`,
    );
  }
  return decodeUtf8(concatBytes(chunks));
}

/** One line for a failed fetch (Deno's messages nest their causes). */
function fetchFailure(e: unknown, timeoutMs: number): string {
  if (e instanceof DOMException && e.name === "TimeoutError") {
    return `no answer in ${timeoutMs / 1000}s`;
  }
  if (e instanceof DOMException && e.name === "AbortError") {
    return "call canceled";
  }
  let msg = e instanceof Error ? e.message : String(e);
  // Deno: TypeError("fetch failed") with the reason in its cause.
  const cause = e instanceof Error ? e.cause : undefined;
  if (cause instanceof Error) msg = cause.message;
  msg = msg.replace(/ \(os error \d+\)$/, "");
  if (/connection refused/i.test(msg)) return "connection refused";
  if (/connection reset/i.test(msg)) return "connection reset";
  if (/connection closed|message completed|incomplete/i.test(msg)) {
    // A reference node closes HTTP/1.1 connections without answering.
    return "connection closed without an answer (a reference node serves no /status)";
  }
  const parts = firstLine(msg).split(": ");
  return parts[parts.length - 1];
}
