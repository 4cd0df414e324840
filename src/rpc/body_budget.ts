/**
 * Bytes of request bodies held toward a message that is not whole yet,
 * bounded on the node and per client address. Connect keeps a message's
 * bytes until it is complete (up to 16 MiB) while HTTP/2 flow control gives
 * the window back as Connect reads them: without this bound, clients that
 * send most of large messages and then wait would hold the node's memory.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { SharedBudget } from "../http/shared_budget.ts";

/**
 * Bytes of incomplete messages the node holds at most: four of the
 * largest messages (`MAX_MESSAGE_BYTES`, 16 MiB) at once.
 */
export const MAX_BODY_BYTES_PER_NODE = 64 * 1024 * 1024;

/** The share of one address: one largest message and its framing. */
export const MAX_BODY_BYTES_PER_ADDRESS = 17 * 1024 * 1024;

/** Content types whose bodies are envelopes of 5-byte prefixes. */
const ENVELOPED = /^application\/(grpc(-web)?(\+[a-z]+)?|connect\+[a-z]+)(;|$)/;

/** A request body metered by a {@link BodyBudget}. */
export interface MeteredBody {
  /** The body, failing with `resource_exhausted` past the budget. */
  body: AsyncIterable<Uint8Array>;
  /** Gives back what the body holds; once the call is over. */
  release(): void;
  /** Whether the body ended or was released: it holds nothing. */
  readonly released: boolean;
}

/**
 * The node's budget of request body bytes held toward incomplete messages.
 * A message is an envelope (gRPC, gRPC-Web, Connect streams: a 5-byte length
 * prefix) or, for Connect's unary calls, the whole body; its bytes count from
 * their arrival until it is complete, the body ends, or the call does.
 *
 * @example
 * ```ts
 * import { BodyBudget } from "./body_budget.ts";
 * const budget = new BodyBudget(10, 10);
 * async function* body() {
 *   yield new Uint8Array(8);
 * }
 * const metered = budget.meter(body(), { key: "10.0.0.7", contentType: "application/json" });
 * for await (const chunk of metered.body) console.log(chunk.length, budget.used); // 8 8
 * console.log(budget.used); // 0: the body ended
 * ```
 */
export class BodyBudget {
  readonly #shares: SharedBudget;

  /** Bounds for the node and for each address, in bytes. */
  constructor(
    perNode: number = MAX_BODY_BYTES_PER_NODE,
    perAddress: number = MAX_BODY_BYTES_PER_ADDRESS,
  ) {
    this.#shares = new SharedBudget(perNode, perAddress);
  }

  /** Bytes held now on the whole node. */
  get used(): number {
    return this.#shares.used;
  }

  /**
   * Meters `body` of a call from `key` (the client's address) whose
   * request has `contentType`.
   */
  meter(
    body: AsyncIterable<Uint8Array>,
    call: { key: string; contentType: string },
  ): MeteredBody {
    const shares = this.#shares;
    const envelope = ENVELOPED.test(call.contentType.toLowerCase())
      ? new EnvelopeCounter()
      : undefined;
    let held = 0;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      shares.give(call.key, held);
      held = 0;
    };
    async function* metered(): AsyncGenerator<Uint8Array> {
      try {
        for await (const chunk of body) {
          if (released) return;
          const next = envelope ? envelope.after(chunk) : held + chunk.length;
          if (next > held) {
            const refusal = shares.take(call.key, next - held);
            if (refusal !== undefined) {
              throw new ConnectError(
                refusal === "address"
                  ? "too many request bytes in flight from your address; try again later"
                  : "too many request bytes in flight on this node; try again later",
                Code.ResourceExhausted,
              );
            }
          } else shares.give(call.key, held - next);
          held = next;
          yield chunk;
        }
      } finally {
        release();
      }
    }
    return {
      body: metered(),
      release,
      get released() {
        return released;
      },
    };
  }
}

/**
 * Follows envelope boundaries (a flags byte, a 4-byte length, the
 * payload) across chunks: how many bytes of the current, incomplete
 * envelope have arrived.
 */
class EnvelopeCounter {
  /** Prefix bytes still to come (0 while in a payload). */
  #prefixLeft = 5;
  #length = 0;
  /** Payload bytes still to come. */
  #payloadLeft = 0;
  #held = 0;

  /** The bytes of the incomplete envelope once `chunk` is counted. */
  after(chunk: Uint8Array): number {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.#prefixLeft > 0) {
        // Bytes 1-4 of the prefix are the length, big-endian.
        if (this.#prefixLeft <= 4) {
          this.#length = this.#length * 256 + chunk[pos];
        }
        pos++;
        this.#held++;
        if (--this.#prefixLeft === 0) {
          this.#payloadLeft = this.#length;
          if (this.#payloadLeft === 0) this.#complete();
        }
        continue;
      }
      const n = Math.min(this.#payloadLeft, chunk.length - pos);
      pos += n;
      this.#held += n;
      this.#payloadLeft -= n;
      if (this.#payloadLeft === 0) this.#complete();
    }
    return this.#held;
  }

  #complete(): void {
    this.#prefixLeft = 5;
    this.#length = 0;
    this.#held = 0;
  }
}
