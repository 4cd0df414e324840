import { assertEquals, assertThrows } from "../assert.ts";
import { UsageError } from "../../src/cli/args.ts";
import { nodeConfigFromFlags } from "../../src/cli/node.ts";

const BASE = { node: "127.0.0.1:1122", bootstrap: true };

Deno.test("node start --allow-keys-from: a list of addresses and ranges", () => {
  assertEquals(nodeConfigFromFlags(BASE).allowKeysFrom, undefined);
  assertEquals(
    nodeConfigFromFlags({
      ...BASE,
      "allow-keys-from": "10.0.0.0/8, 192.168.1.5,fd00::/8",
    }).allowKeysFrom,
    ["10.0.0.0/8", "192.168.1.5", "fd00::/8"],
  );
});

Deno.test("node start --allow-keys-from: a bad entry is a usage error naming it", () => {
  for (
    const [value, message] of [
      ["10.0.0.0/33", '--allow-keys-from: invalid address "10.0.0.0/33"'],
      [
        "10.0.0.1,example.com",
        '--allow-keys-from: invalid address "example.com"',
      ],
      ["", "--allow-keys-from: expected addresses or CIDR ranges"],
      [" ", "--allow-keys-from: expected addresses or CIDR ranges"],
    ]
  ) {
    assertThrows(
      () => nodeConfigFromFlags({ ...BASE, "allow-keys-from": value }),
      UsageError,
      message,
    );
  }
});
