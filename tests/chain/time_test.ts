/**
 * Go's `time.Time` in JSON (FORMAT.md section 1): offsets, fractions,
 * strict parsing and calendar bounds.
 */
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { DecodeError } from "../../src/chain/json.ts";
import { asTime, formatTime, parseTime } from "../../src/chain/time.ts";

function rt(s: string): string {
  return formatTime(parseTime(s));
}

function utcNano(iso: string): bigint {
  return BigInt(Date.parse(iso)) * 1_000_000n;
}

Deno.test("time: Z, +00:00 and -00:00 all render as Z", () => {
  assertEquals(rt("2024-05-01T10:00:00Z"), "2024-05-01T10:00:00Z");
  assertEquals(rt("2024-05-01T10:00:00+00:00"), "2024-05-01T10:00:00Z");
  assertEquals(rt("2024-05-01T10:00:00-00:00"), "2024-05-01T10:00:00Z");
  assertEquals(parseTime("2024-05-01T10:00:00-00:00").offsetMinutes, 0);
});

Deno.test("time: a non-zero offset is kept", () => {
  assertEquals(rt("2024-05-01T12:00:00+02:00"), "2024-05-01T12:00:00+02:00");
  assertEquals(rt("2024-05-01T02:30:00-07:30"), "2024-05-01T02:30:00-07:30");
  assertEquals(rt("2024-05-01T02:30:00-00:30"), "2024-05-01T02:30:00-00:30");
  assertEquals(rt("2024-05-01T23:59:59+23:59"), "2024-05-01T23:59:59+23:59");
  assertEquals(parseTime("2024-05-01T02:30:00-07:30").offsetMinutes, -450);
});

Deno.test("time: the instant is preserved across offsets", () => {
  const a = parseTime("2024-05-01T12:00:00+02:00");
  const b = parseTime("2024-05-01T10:00:00Z");
  assertEquals(a.unixNano, b.unixNano);
  assertEquals(b.unixNano, utcNano("2024-05-01T10:00:00Z"));
  assert(a.offsetMinutes !== b.offsetMinutes);
  // Across a day boundary with a negative offset.
  assertEquals(
    parseTime("2024-04-30T23:30:00-07:30").unixNano,
    utcNano("2024-05-01T07:00:00Z"),
  );
  // Before 1970, with a fraction.
  assertEquals(
    parseTime("1969-12-31T23:59:59.5Z").unixNano,
    -500_000_000n,
  );
  assertEquals(rt("1969-12-31T23:59:59.5Z"), "1969-12-31T23:59:59.5Z");
});

Deno.test("time: fraction digits, trailing zeros trimmed, no dot for zero", () => {
  assertEquals(rt("2024-05-01T10:00:00.000Z"), "2024-05-01T10:00:00Z");
  assertEquals(rt("2024-05-01T10:00:00.0Z"), "2024-05-01T10:00:00Z");
  assertEquals(rt("2024-05-01T10:00:00.5Z"), "2024-05-01T10:00:00.5Z");
  assertEquals(
    rt("2024-05-01T10:00:00.123456789Z"),
    "2024-05-01T10:00:00.123456789Z",
  );
  assertEquals(
    rt("2024-05-01T10:00:00.000000001Z"),
    "2024-05-01T10:00:00.000000001Z",
  );
  assertEquals(
    rt("2024-05-01T10:00:00.120+00:00"),
    "2024-05-01T10:00:00.12Z",
  );
  assertEquals(
    rt("2024-05-01T10:00:00.100000000+01:00"),
    "2024-05-01T10:00:00.1+01:00",
  );
});

Deno.test("time: more than 9 fraction digits are truncated, not rounded", () => {
  assertEquals(
    rt("2024-05-01T10:00:00.1234567891Z"),
    "2024-05-01T10:00:00.123456789Z",
  );
  assertEquals(
    rt("2024-05-01T10:00:00.9999999999999Z"),
    "2024-05-01T10:00:00.999999999Z",
  );
  assertEquals(rt("2024-05-01T10:00:00.0000000009Z"), "2024-05-01T10:00:00Z");
});

Deno.test("time: malformed times are rejected", () => {
  for (
    const bad of [
      "2024-05-01t10:00:00Z", // lowercase t
      "2024-05-01T10:00:00z", // lowercase z
      "2024-05-01T10:00:00", // no offset
      "2024-05-01T10:00:00.5", // no offset
      "2024-05-01T24:00:00Z", // hour 24
      "2024-05-01T10:60:00Z", // minute 60
      "2024-12-31T23:59:60Z", // second 60 (no leap seconds)
      "2024-05-01T10:00:00.Z", // dot without digits
      "2024-05-01 10:00:00Z", // space separator
      "2024-05-01T10:00:00+0200", // offset without colon
      "2024-05-01T10:00:00+02", // short offset
      "2024-05-01T10:00:00+24:00", // offset hour 24
      "2024-05-01T10:00:00+02:60", // offset minute 60
      "2024-5-01T10:00:00Z",
      "2024-05-1T10:00:00Z",
      "2024-05-01T1:00:00Z",
      "24-05-01T10:00:00Z",
      "10000-01-01T00:00:00Z", // year beyond 9999
      "-0001-01-01T00:00:00Z",
      "2024-00-01T00:00:00Z",
      "2024-13-01T00:00:00Z",
      "2024-04-31T00:00:00Z",
      "2024-05-00T00:00:00Z",
      " 2024-05-01T10:00:00Z",
      "2024-05-01T10:00:00Z ",
      "",
    ]
  ) {
    let accepted = true;
    try {
      parseTime(bad);
    } catch (e) {
      accepted = false;
      assert(e instanceof DecodeError, `${bad}: ${e}`);
      assert(e.message.startsWith("time:"), e.message);
    }
    assert(!accepted, `accepted ${JSON.stringify(bad)}`);
  }
  const e = assertThrows(
    () => asTime("2024-05-01T10:00:00", "tx.time"),
    DecodeError,
  );
  assert(e.message.startsWith("tx.time:"), e.message);
});

Deno.test("time: February 29 only in leap years", () => {
  assertEquals(rt("2024-02-29T00:00:00Z"), "2024-02-29T00:00:00Z");
  assertEquals(rt("2000-02-29T00:00:00Z"), "2000-02-29T00:00:00Z");
  assertEquals(rt("0000-02-29T00:00:00Z"), "0000-02-29T00:00:00Z");
  assertThrows(() => parseTime("2023-02-29T00:00:00Z"), DecodeError);
  assertThrows(() => parseTime("1900-02-29T00:00:00Z"), DecodeError);
  assertThrows(() => parseTime("2024-02-30T00:00:00Z"), DecodeError);
  assertEquals(
    parseTime("2024-03-01T00:00:00Z").unixNano -
      parseTime("2024-02-28T00:00:00Z").unixNano,
    2n * 86_400_000_000_000n,
  );
});

Deno.test("time: years 0000 and 9999", () => {
  assertEquals(rt("0000-01-01T00:00:00Z"), "0000-01-01T00:00:00Z");
  assertEquals(
    rt("9999-12-31T23:59:59.999999999Z"),
    "9999-12-31T23:59:59.999999999Z",
  );
  // Local year 0000 with a positive offset: the instant is in year -1 UTC.
  assertEquals(rt("0000-01-01T00:00:00+01:00"), "0000-01-01T00:00:00+01:00");
  assertEquals(
    parseTime("0000-01-01T00:00:00Z").unixNano,
    utcNano("0000-01-01T00:00:00Z"),
  );
  assertEquals(
    parseTime("9999-12-31T23:59:59Z").unixNano,
    utcNano("9999-12-31T23:59:59Z"),
  );
});

Deno.test("time: asTime reads a JSON string and names the field otherwise", () => {
  assertEquals(
    formatTime(asTime("2024-05-01T10:00:00+02:00", "tx.time")),
    "2024-05-01T10:00:00+02:00",
  );
  assertThrows(
    () => asTime(5n as never, "tx.time"),
    DecodeError,
    "tx.time: expected a string",
  );
  assertThrows(
    () => asTime("yesterday", "tx.time"),
    DecodeError,
    "tx.time: expected an RFC 3339 time",
  );
});
