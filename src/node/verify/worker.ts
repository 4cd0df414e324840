/**
 * The body of a verification worker (see `pool.ts`): runs
 * `handleRequest` of `work.ts` on its own thread, so the main thread
 * only applies blocks and transactions in order.
 *
 * @module
 */
import {
  handleRequest,
  type WorkerRequest,
  type WorkerResponse,
} from "./work.ts";

/** The worker side of `postMessage`, without the DOM's types. */
interface WorkerScope {
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerResponse, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;

scope.onmessage = (e: MessageEvent<WorkerRequest>): void => {
  const { response, transfer } = handleRequest(e.data);
  scope.postMessage(response, transfer);
};
