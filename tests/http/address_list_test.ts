import { assert, assertEquals, assertThrows } from "../assert.ts";
import { AddressList, clientAddress } from "../../src/http/address_list.ts";

Deno.test("AddressList: exact IPv4 and IPv6 addresses", () => {
  const list = AddressList.parse("127.0.0.1, ::1");
  assertEquals(list.size, 2);
  assert(list.includes("127.0.0.1"));
  assert(list.includes("::1"));
  assert(list.includes("0:0:0:0:0:0:0:1"));
  assert(!list.includes("127.0.0.2"));
  assert(!list.includes("127.0.0.10"));
  assert(!list.includes("::2"));
  assert(!list.includes(undefined));
  assert(!list.includes("localhost"));
  assert(!list.includes(""));
});

Deno.test("AddressList: an IPv4-mapped IPv6 address is the IPv4 address", () => {
  const list = AddressList.parse("127.0.0.1,10.0.0.0/8");
  assert(list.includes("::ffff:127.0.0.1"));
  assert(list.includes("::FFFF:7f00:1"));
  assert(list.includes("0:0:0:0:0:ffff:10.200.3.4"));
  assert(!list.includes("::ffff:127.0.0.2"));
  // An IPv4-compatible (deprecated, not mapped) address is another address.
  assert(!list.includes("::127.0.0.1"));
  assert(AddressList.parse("::ffff:192.168.0.0/112").includes("192.168.4.5"));
});

Deno.test("AddressList: CIDR ranges", () => {
  const list = AddressList.parse("10.0.0.0/8,192.168.1.5,172.16.0.0/12");
  assert(list.includes("10.0.0.0"));
  assert(list.includes("10.255.255.255"));
  assert(!list.includes("11.0.0.0"));
  assert(list.includes("192.168.1.5"));
  assert(!list.includes("192.168.1.4"));
  assert(list.includes("172.31.1.1"));
  assert(!list.includes("172.32.0.1"));
  // Host bits in a range are ignored, as usual.
  assert(AddressList.parse("10.1.2.3/8").includes("10.9.9.9"));
  assert(AddressList.parse("10.1.2.3/31").includes("10.1.2.2"));
  assert(!AddressList.parse("10.1.2.3/31").includes("10.1.2.4"));

  const v6 = AddressList.parse("fd00::/8,2001:db8::/32");
  assert(v6.includes("fd12:3456::1"));
  assert(!v6.includes("fe80::1"));
  assert(v6.includes("2001:db8:ffff::1"));
  assert(!v6.includes("2001:db9::1"));
  // /0 is everyone, of its family only.
  assert(AddressList.parse("0.0.0.0/0").includes("8.8.8.8"));
  assert(!AddressList.parse("0.0.0.0/0").includes("2001:db8::1"));
  assert(AddressList.parse("::/0").includes("2001:db8::1"));
});

Deno.test("AddressList: malformed entries are one-line errors naming them", () => {
  for (
    const [text, message] of [
      ["10.0.0.0/33", '"10.0.0.0/33": the prefix length must be 0 to 32'],
      ["fd00::/129", '"fd00::/129": the prefix length must be 0 to 128'],
      ["10.0.0.0/", '"10.0.0.0/": the prefix length'],
      ["10.0.0.0/8/8", '"10.0.0.0/8/8": the prefix length'],
      ["localhost", 'invalid address "localhost": expected an IPv4 or IPv6'],
      ["256.0.0.1", '"256.0.0.1"'],
      ["010.0.0.1", '"010.0.0.1"'],
      ["10.0.0", '"10.0.0"'],
      ["1:2:3:4:5:6:7:8:9", '"1:2:3:4:5:6:7:8:9"'],
      ["1::2::3", '"1::2::3"'],
      ["fe80::1%eth0", '"fe80::1%eth0"'],
      ["10.0.0.1,", 'invalid address ""'],
      [",", 'invalid address ""'],
    ]
  ) {
    const e = assertThrows(() => AddressList.parse(text), Error, message);
    assert(!e.message.includes("\n"), e.message);
  }
  assertEquals(AddressList.parse("").size, 0);
});

Deno.test("AddressList.within: whether a list widens another", () => {
  const local = AddressList.of(["127.0.0.1", "::1"]);
  assert(AddressList.parse("").within(local));
  assert(AddressList.parse("127.0.0.1,::1").within(local));
  assert(AddressList.parse("::ffff:127.0.0.1").within(local));
  assert(!AddressList.parse("127.0.0.0/8").within(local));
  assert(!AddressList.parse("127.0.0.1,10.0.0.1").within(local));
  assert(!AddressList.parse("::/0").within(local));
  assertEquals(
    AddressList.parse(" 10.0.0.0/8 ,::1").toString(),
    "10.0.0.0/8,::1",
  );
});

Deno.test("clientAddress: IPv4-mapped addresses become plain IPv4", () => {
  assertEquals(clientAddress("::ffff:127.0.0.1"), "127.0.0.1");
  assertEquals(clientAddress("::FFFF:10.1.2.3"), "10.1.2.3");
  assertEquals(clientAddress("::ffff:7f00:2"), "127.0.0.2");
  assertEquals(clientAddress("127.0.0.1"), "127.0.0.1");
  assertEquals(clientAddress("::1"), "::1");
  assertEquals(clientAddress("FE80::1"), "fe80::1");
  assertEquals(clientAddress(""), undefined);
  assertEquals(clientAddress(undefined), undefined);
});
