/**
 * The contract between the node's event bus and the `StreamSubscribe`
 * handler: a feed of events per subscriber, and the error that drops a
 * subscriber that fell too far behind.
 *
 * @module
 */
import type { Event } from "../chain/event.ts";

/** Options of {@link EventFeed.subscribe}. */
export interface EventFeedOptions {
  /** Aborting it ends the subscription: the iterator returns. */
  signal?: AbortSignal;
  /** Events queued at most before the subscriber is dropped. */
  capacity?: number;
}

/** Where `StreamSubscribe` takes its events from. */
export interface EventFeed {
  /**
   * The events of `types` (`1` transactions, `2` blocks; empty or `0` means
   * all) from now on, until `options.signal` aborts; the iterator throws
   * {@link SubscriberTooSlow} when the subscriber fell more than
   * `options.capacity` events behind.
   */
  subscribe(
    types: readonly number[],
    options: EventFeedOptions,
  ): AsyncIterableIterator<Event>;
}

/** Thrown by a subscription that fell more than its capacity behind. */
export class SubscriberTooSlow extends Error {
  /** The capacity that was exceeded. */
  readonly capacity: number;

  /**
   * Creates the error for a subscriber of `capacity` events.
   *
   * @example
   * ```ts
   * import { SubscriberTooSlow } from "./event_feed.ts";
   *
   * console.log(new SubscriberTooSlow(1000).message);
   * // subscriber too slow: more than 1000 events queued
   * ```
   */
  constructor(capacity: number) {
    super(`subscriber too slow: more than ${capacity} events queued`);
    this.name = "SubscriberTooSlow";
    this.capacity = capacity;
  }
}
