/**
 * `bcn node status`: what a node says about itself on `GET /status`.
 *
 * @module
 */
import { splitHostPort } from "../node/config.ts";
import { decodeStatus, formatStatus, type NodeStatus } from "../node/status.ts";
import { parseFlags } from "./args.ts";
import { NodeError, requireNode } from "./rpc_errors.ts";

/** Help for `bcn node status`. */
export const NODE_STATUS_HELP =
  `Usage: bcn node status --node HOST:PORT [--json]

Prints what the node says about itself (its GET /status endpoint): the chain
and genesis, the last block, pending transactions, peers, whether it is
catching up and how far behind it believes it is, the authority and whether
this node is it, its version, uptime and health. Exit code 0 whenever the node
answers its status, healthy or not (the "health" line says which); a node
still starting has no status yet: its one-line reason, exit code 1.

Flags:
  --node HOST:PORT     the node to ask (required)
  --json               the node's JSON answer, one line
`;

const STATUS_FLAGS = {
  node: { type: "string" },
  json: { type: "boolean" },
} as const;

/** How long `bcn node status` waits for an answer. */
export const STATUS_TIMEOUT_MS = 10_000;
/** The largest status answer read, so a wrong server cannot flood the CLI. */
const MAX_STATUS_BYTES = 1 << 20;

/**
 * Asks node `addr` for its status over HTTP/1.1; throws a one-line
 * {@link NodeError} when the node cannot be reached or answers something
 * else than a status.
 *
 * @example
 * ```ts ignore
 * import { fetchStatus } from "./status.ts";
 *
 * const status = await fetchStatus("127.0.0.1:1122");
 * console.log(status.lastBlock.number);
 * ```
 */
export async function fetchStatus(
  addr: string,
  options: { timeoutMs?: number } = {},
): Promise<{ status: NodeStatus; text: string }> {
  const { hostname, port } = splitHostPort(addr);
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  let res: Response;
  try {
    res = await fetch(`http://${host}:${port}/status`, {
      signal: AbortSignal.timeout(options.timeoutMs ?? STATUS_TIMEOUT_MS),
    });
  } catch (e) {
    throw new NodeError(`cannot reach node ${addr}: ${fetchFailure(e)}`);
  }
  const text = await readBounded(res, addr);
  if (res.status !== 200) {
    throw new NodeError(
      `node ${addr}: /status answered ${res.status}: ${
        text.split("\n")[0].slice(0, 200)
      }`,
    );
  }
  try {
    return { status: decodeStatus(text), text: text.trim() };
  } catch (e) {
    throw new NodeError(`node ${addr}: bad answer: ${(e as Error).message}`);
  }
}

/** Runs `bcn node status`. */
export async function nodeStatus(args: string[]): Promise<void> {
  const flags = parseFlags(args, STATUS_FLAGS);
  if (flags.help) {
    console.log(NODE_STATUS_HELP);
    return;
  }
  const addr = requireNode(flags);
  const { status, text } = await fetchStatus(addr);
  console.log(flags.json ? text : formatStatus(status));
}

async function readBounded(res: Response, addr: string): Promise<string> {
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
    throw new NodeError(`cannot reach node ${addr}: ${fetchFailure(e)}`);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

/** One line for a failed fetch (Deno's messages nest their causes). */
function fetchFailure(e: unknown): string {
  if (e instanceof DOMException && e.name === "TimeoutError") {
    return `no answer in ${STATUS_TIMEOUT_MS / 1000}s`;
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
  const parts = msg.split("\n")[0].split(": ");
  return parts[parts.length - 1];
}
