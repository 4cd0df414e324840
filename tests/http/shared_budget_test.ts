import { assertEquals } from "../assert.ts";
import { SharedBudget } from "../../src/http/shared_budget.ts";

Deno.test("SharedBudget: a share per address, a bound for the node, a reserve for preferred keys", () => {
  const b = new SharedBudget(10, 4, 2);
  assertEquals([1, 2, 3, 4].map(() => b.take("a")), [
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
  assertEquals(b.take("a"), "address");
  assertEquals(b.take("b", 4), undefined);
  // 8 taken: strangers may use 10 - 2.
  assertEquals(b.take("c"), "node");
  assertEquals(b.take("c", 1, true), undefined);
  assertEquals(b.take("d", 1, true), undefined);
  assertEquals(b.take("d", 1, true), "node");
  assertEquals(b.used, 10);
  b.give("a", 3);
  assertEquals(b.used, 7);
  assertEquals(b.take("e"), undefined);
});

Deno.test("SharedBudget: giving back more than a key holds gives back what it holds", () => {
  const b = new SharedBudget(10, 10);
  b.take("a", 3);
  b.give("a", 5);
  b.give("nobody", 5);
  assertEquals(b.used, 0);
  assertEquals(b.take("a", 10), undefined);
});
