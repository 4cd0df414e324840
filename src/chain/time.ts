/**
 * Times as Go's `time.Time` writes them in JSON (`docs/FORMAT.md`, section 1):
 * RFC 3339 with nanoseconds and the UTC offset they were written with,
 * parsed as strictly as Go's parser and rendered as its RFC3339Nano.
 *
 * @module
 */

import { asString, DecodeError, type JsonValue } from "./json.ts";

/**
 * A point in time as Go's `time.Time` renders it in JSON: the instant in
 * nanoseconds and the UTC offset it was written with.
 */
export interface Time {
  /** Nanoseconds since 1970-01-01T00:00:00Z (negative before). */
  readonly unixNano: bigint;
  /** The UTC offset in minutes, east positive. */
  readonly offsetMinutes: number;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const NS_PER_DAY = 86_400_000_000_000n;

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar.
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(z: number): [number, number, number] {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) -
      Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

const TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parses an RFC 3339 time as Go's parser does: year 0000-9999, more than 9
 * fraction digits truncated, `-00:00` is UTC; lowercase `t`/`z`, a missing
 * offset, hour 24 and second 60 are rejected.
 *
 * @example
 * ```ts
 * import { formatTime, parseTime } from "./time.ts";
 * formatTime(parseTime("2024-05-01T10:00:00.120+00:00")); // "2024-05-01T10:00:00.12Z"
 * ```
 */
export function parseTime(s: string, path = "time"): Time {
  const m = TIME_RE.exec(s);
  if (!m) throw new DecodeError(path, "expected an RFC 3339 time");
  const [y, mo, d, h, mi, se] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(
    Number,
  );
  const dim = mo === 2 && isLeap(y) ? 29 : DAYS_IN_MONTH[mo - 1];
  if (mo < 1 || mo > 12 || d < 1 || d > dim) {
    throw new DecodeError(path, "day or month out of range");
  }
  if (h > 23 || mi > 59 || se > 59) {
    throw new DecodeError(path, "hour, minute or second out of range");
  }
  let offset = 0;
  if (!m[8]) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) {
      throw new DecodeError(path, "time zone offset out of range");
    }
    const mins = oh * 60 + om;
    // `-00:00` is the zero offset: +0, never -0.
    offset = m[9] === "-" && mins !== 0 ? -mins : mins;
  }
  const frac = BigInt((m[7] ?? "").slice(0, 9).padEnd(9, "0"));
  const secs = BigInt(daysFromCivil(y, mo, d)) * 86400n +
    BigInt(h * 3600 + mi * 60 + se - offset * 60);
  return { unixNano: secs * 1_000_000_000n + frac, offsetMinutes: offset };
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, "0");
}

/** Renders a time as Go's RFC3339Nano: trailing fraction zeros dropped. */
export function formatTime(t: Time): string {
  const local = t.unixNano + BigInt(t.offsetMinutes) * 60_000_000_000n;
  let days = local / NS_PER_DAY;
  let rem = local % NS_PER_DAY;
  if (rem < 0n) {
    rem += NS_PER_DAY;
    days -= 1n;
  }
  const [y, mo, d] = civilFromDays(Number(days));
  const secOfDay = Number(rem / 1_000_000_000n);
  const ns = Number(rem % 1_000_000_000n);
  let out = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${
    pad(Math.floor(secOfDay / 3600), 2)
  }:${pad(Math.floor(secOfDay / 60) % 60, 2)}:${pad(secOfDay % 60, 2)}`;
  if (ns !== 0) out += "." + pad(ns, 9).replace(/0+$/, "");
  if (t.offsetMinutes === 0) return out + "Z";
  const o = Math.abs(t.offsetMinutes);
  return out + (t.offsetMinutes < 0 ? "-" : "+") +
    `${pad(Math.floor(o / 60), 2)}:${pad(o % 60, 2)}`;
}

/** The current time in UTC, with millisecond precision or better. */
export function timeNow(): Time {
  const ms = BigInt(Date.now());
  return { unixNano: ms * 1_000_000n, offsetMinutes: 0 };
}

/** Orders times by instant. */
export function compareTime(a: Time, b: Time): number {
  return a.unixNano < b.unixNano ? -1 : a.unixNano > b.unixNano ? 1 : 0;
}

/**
 * Reads a JSON string holding an RFC 3339 time (see {@link parseTime}).
 *
 * @example
 * ```ts
 * import { asTime, formatTime } from "./time.ts";
 * formatTime(asTime("2024-05-01T10:00:00Z", "tx.time")); // "2024-05-01T10:00:00Z"
 * ```
 */
export function asTime(v: JsonValue, path: string): Time {
  return parseTime(asString(v, path), path);
}
