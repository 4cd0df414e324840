/**
 * Node events (`docs/FORMAT.md`, section 3): a confirmed block or
 * transaction, as streamed to subscribers.
 *
 * @module
 */
import { blockBytes, type SigBlock } from "./block.ts";
import { DecodeError, encodeBytes, encodeString, parseObject } from "./json.ts";
import { type SigTx, txBytes } from "./tx.ts";

/** Event types: 0 selects all when subscribing. */
export const EventType = { All: 0, Tx: 1, Block: 2 } as const;
/** One of {@link EventType}'s values. */
export type EventType = typeof EventType[keyof typeof EventType];

/** An event: its type, its action and the canonical JSON of its subject. */
export interface Event {
  /** 1 for a transaction, 2 for a block. */
  readonly type: EventType;
  /** What happened, such as `validated`. */
  readonly action: string;
  /** Canonical JSON bytes of the SigTx or SigBlock. */
  readonly body: Uint8Array;
}

/** The event for a confirmed block. */
export function blockEvent(b: SigBlock): Event {
  return {
    type: EventType.Block,
    action: "validated",
    body: blockBytes(b),
  };
}

/** The event for a confirmed transaction. */
export function txEvent(tx: SigTx): Event {
  return {
    type: EventType.Tx,
    action: "validated",
    body: txBytes(tx),
  };
}

/** Canonical JSON of an event. */
export function encodeEvent(e: Event): string {
  return `{"type":${e.type},"action":${encodeString(e.action)},"body":${
    encodeBytes(e.body)
  }}`;
}

/** Decodes an event. */
export function decodeEvent(input: string | Uint8Array): Event {
  const f = parseObject(input, "event");
  const type = Number(f.u64("type"));
  if (type !== 0 && type !== 1 && type !== 2) {
    throw new DecodeError("event.type", "expected 0, 1 or 2");
  }
  return { type, action: f.string("action"), body: f.bytes("body") };
}
