/**
 * A service whose implementation arrives later: a node serves its port
 * while it replays and syncs (so `/healthz` can say so), and answers every
 * call with `Unavailable` until its state is ready.
 *
 * @module
 */
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";

/**
 * Every method of `service`, calling the implementation `get()` returns, or
 * failing with `Unavailable` and `notReady()`'s message while it returns
 * undefined.
 *
 * @example
 * ```ts
 * import { whenReady } from "./when_ready.ts";
 * import { messageOf } from "../util/errors.ts";
 * import { Block } from "./gen/block_pb.ts";
 *
 * const impl = whenReady(Block, () => undefined, () => "node is starting");
 * try {
 *   await impl.genesisSync({ $typeName: "GenesisSyncReq" }, {} as never);
 * } catch (e) {
 *   console.log(messageOf(e)); // [unavailable] node is starting
 * }
 * ```
 */
export function whenReady<S extends DescService>(
  service: S,
  get: () => ServiceImpl<S> | undefined,
  notReady: () => string,
): ServiceImpl<S> {
  const impl: Record<string, unknown> = {};
  for (const method of service.methods) {
    const name = method.localName;
    const target = (): (req: unknown, ctx: unknown) => unknown => {
      const ready = get() as Record<string, unknown> | undefined;
      if (!ready) throw new ConnectError(notReady(), Code.Unavailable);
      return (ready[name] as (req: unknown, ctx: unknown) => unknown).bind(
        ready,
      );
    };
    if (
      method.methodKind === "server_streaming" ||
      method.methodKind === "bidi_streaming"
    ) {
      impl[name] = async function* (req: unknown, ctx: unknown) {
        yield* target()(req, ctx) as AsyncIterable<unknown>;
      };
    } else {
      impl[name] = async (req: unknown, ctx: unknown) =>
        await target()(req, ctx);
    }
  }
  return impl as ServiceImpl<S>;
}
