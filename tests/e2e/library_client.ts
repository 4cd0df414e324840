/**
 * A user's program on the `Client` of the root export, as docs/library.md
 * shows it: `library_client_test.ts` copies it into a project of its own
 * (a `deno.json` linking the clone) and runs it against a real node.
 *
 *     deno run --allow-net=ADDR --allow-read=KEYSTORE main.ts ADDR OWNER KEYSTORE PASSWORD
 *
 * Prints one JSON line of what it saw.
 */
import { Client, merkleVerify, txHash } from "@bcn/bcn";

const [addr, owner, keyStore, password] = Deno.args;
await using client = new Client(addr);
const before = await client.balance(owner);

// Listen before sending, so the block holding the transfer is seen.
const stop = new AbortController();
const timeout = setTimeout(() => stop.abort(), 60_000);
const events = client.subscribe({ events: ["block"], signal: stop.signal })
  [Symbol.asyncIterator]();
const firstEvent = events.next();

const tx = await client.sign(
  {
    from: owner,
    to: "8d577d9372092fcdb60a3e493641f1e19b38072798c672011daba6271fad5dc6",
    value: 5n,
  },
  { keyStore, password },
);
const sent = await client.send(tx);

let seenIn: bigint | undefined;
for (let next = await firstEvent; !next.done; next = await events.next()) {
  const event = next.value;
  if (
    event.type === "block" &&
    event.block.txs.some((t) => txHash(t) === sent.hash)
  ) {
    seenIn = event.block.number;
    break;
  }
}
clearTimeout(timeout);
stop.abort();

const found = [];
for await (const t of client.searchTxs({ hash: sent.hash })) found.push(t);
const block = await client.searchBlock({ number: found[0].blockNumber });
const proof = await client.prove(sent.hash);
console.log(JSON.stringify({
  before: String(before),
  after: String(await client.balance(owner)),
  nonce: String(tx.nonce),
  hash: sent.hash,
  queued: sent.queued,
  seenIn: String(seenIn),
  foundIn: String(found[0].blockNumber),
  found: found.length,
  inBlock: block?.txs.some((t) => txHash(t) === sent.hash) ?? false,
  validOnNode: await client.verify(sent.hash, proof, found[0].merkleRoot),
  validHere: merkleVerify(sent.hash, proof, found[0].merkleRoot),
}));
