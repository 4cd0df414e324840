/**
 * The event bus of a node: confirmed blocks and transactions are published
 * once and fanned out to every matching subscriber through its own bounded
 * queue. Publishing never waits: a subscriber whose queue is full is
 * disconnected ({@link SubscriberTooSlow}), so a slow client costs at most
 * `capacity` events of memory. The Node service's `StreamSubscribe`
 * (`rpc/node_service.ts`) serves the bus, as its `EventFeed`.
 *
 * @module
 */
import { type Event, EventType } from "../chain/event.ts";
import {
  type EventFeed,
  type EventFeedOptions,
  SubscriberTooSlow,
} from "../rpc/event_feed.ts";

/** Default of the `capacity` of {@link EventBus.subscribe}. */
export const DEFAULT_SUBSCRIBER_CAPACITY = 1000;

/**
 * Options of {@link EventBus.subscribe}: those of the Node service's event
 * feed; `capacity` defaults to {@link DEFAULT_SUBSCRIBER_CAPACITY}.
 */
export type SubscribeOptions = EventFeedOptions;

/** One subscriber: a bounded queue read as an async iterator. */
class Subscription implements AsyncIterableIterator<Event> {
  readonly #bus: Set<Subscription>;
  readonly #all: boolean;
  readonly #types: ReadonlySet<number>;
  readonly #capacity: number;
  readonly #signal: AbortSignal | undefined;
  #queue: Event[] = [];
  #waiters: ((result: IteratorResult<Event>) => void)[] = [];
  #error: SubscriberTooSlow | undefined;
  #closed = false;

  constructor(
    bus: Set<Subscription>,
    types: readonly number[],
    options: SubscribeOptions,
  ) {
    this.#bus = bus;
    this.#types = new Set(types);
    this.#all = types.length === 0 || this.#types.has(EventType.All);
    this.#capacity = options.capacity ?? DEFAULT_SUBSCRIBER_CAPACITY;
    this.#signal = options.signal;
    if (this.#signal?.aborted) {
      this.#closed = true;
      return;
    }
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
    bus.add(this);
  }

  /** Queues `event` if it matches; disconnects when the queue is full. */
  offer(event: Event): void {
    if (this.#closed) return;
    if (!this.#all && !this.#types.has(event.type)) return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter({ value: event, done: false });
    } else if (this.#queue.length < this.#capacity) {
      this.#queue.push(event);
    } else {
      this.#error = new SubscriberTooSlow(this.#capacity);
      this.#detach();
    }
  }

  next(): Promise<IteratorResult<Event>> {
    const event = this.#queue.shift();
    if (event !== undefined) {
      return Promise.resolve({ value: event, done: false });
    }
    const error = this.#error;
    if (error !== undefined) {
      this.#error = undefined;
      return Promise.reject(error);
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  return(): Promise<IteratorResult<Event>> {
    this.#end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Event> {
    return this;
  }

  #onAbort = (): void => this.#end();

  /** Ends the subscription: nothing more is delivered. */
  #end(): void {
    this.#queue = [];
    this.#error = undefined;
    this.#detach();
    for (const waiter of this.#waiters) {
      waiter({ value: undefined, done: true });
    }
    this.#waiters = [];
  }

  /** Leaves the bus; what is queued can still be read. */
  #detach(): void {
    this.#closed = true;
    this.#bus.delete(this);
    this.#signal?.removeEventListener("abort", this.#onAbort);
  }
}

/**
 * Fans events out to subscribers (see the module documentation).
 *
 * @example
 * ```ts
 * import { EventType, type Event } from "../chain/event.ts";
 * import { EventBus } from "./events.ts";
 *
 * const bus = new EventBus();
 * const controller = new AbortController();
 * const blocks = bus.subscribe([EventType.Block], { signal: controller.signal });
 * const event: Event = {
 *   type: EventType.Block,
 *   action: "validated",
 *   body: new TextEncoder().encode("{}"),
 * };
 * bus.publish(event);
 * const { value } = await blocks.next();
 * console.log(value?.action); // validated
 * controller.abort();
 * ```
 */
export class EventBus implements EventFeed {
  readonly #subscribers = new Set<Subscription>();
  #slow = 0;

  /** How many subscribers were disconnected for being too slow so far. */
  get slowDisconnects(): number {
    return this.#slow;
  }

  /**
   * The number of current subscribers.
   *
   * @example
   * ```ts
   * import { EventBus } from "./events.ts";
   *
   * console.log(new EventBus().subscriberCount); // 0
   * ```
   */
  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /**
   * Delivers `event` to every subscriber whose filter matches. Never waits,
   * never throws; a subscriber whose queue is full is disconnected.
   *
   * @example
   * ```ts
   * import { EventType } from "../chain/event.ts";
   * import { EventBus } from "./events.ts";
   *
   * new EventBus().publish({
   *   type: EventType.Tx,
   *   action: "validated",
   *   body: new Uint8Array(),
   * });
   * ```
   */
  publish(event: Event): void {
    const before = this.#subscribers.size;
    for (const subscriber of [...this.#subscribers]) subscriber.offer(event);
    // offer() removes a subscriber only when it is too slow.
    this.#slow += before - this.#subscribers.size;
  }

  /**
   * Subscribes to the events of `types` (`1` transactions, `2` blocks; an
   * empty list or `0` means all), from now on. The iterator yields them in
   * publication order; it returns when `options.signal` aborts or when
   * `return()` is called (a `for await` loop that breaks), which removes the
   * subscriber. When more than `options.capacity` events wait unread, the
   * subscriber is removed and its iterator throws {@link SubscriberTooSlow}
   * after yielding what was queued.
   *
   * @example
   * ```ts
   * import { EventBus } from "./events.ts";
   *
   * const bus = new EventBus();
   * const controller = new AbortController();
   * const all = bus.subscribe([], { signal: controller.signal, capacity: 100 });
   * console.log(bus.subscriberCount); // 1
   * controller.abort();
   * console.log(bus.subscriberCount); // 0
   * console.log(await all.next()); // { value: undefined, done: true }
   * ```
   */
  subscribe(
    types: readonly number[],
    options: SubscribeOptions = {},
  ): AsyncIterableIterator<Event> {
    const capacity = options.capacity ?? DEFAULT_SUBSCRIBER_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a positive integer: ${capacity}`);
    }
    return new Subscription(this.#subscribers, types, options);
  }
}
