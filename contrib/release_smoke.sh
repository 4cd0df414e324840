#!/usr/bin/env bash
# The smoke check of a bcn build, run by the release workflow on each binary
# before it publishes, and by tests/e2e/release_smoke_test.ts on bcn from
# source, so CI tests what the release runs.
#
#   contrib/release_smoke.sh [--version-only] BCN_COMMAND...
#
# e.g. `contrib/release_smoke.sh dist/bcn-x86_64-unknown-linux-gnu` or
# `contrib/release_smoke.sh deno run -A src/main.ts`. It checks that
# `bcn --version` names the version in deno.json, then (unless
# --version-only) runs `bcn dev` with two nodes, sends the transfer the
# summary prints, waits until every node has confirmed it, and stops the
# network with SIGINT, which must exit 0 and remove the chain's directory.
#
# BCN_SMOKE_PORT is the first of the two ports `bcn dev` serves (default
# 1122). Every wait is bounded; it prints one "ok:" line per step, or one
# line saying what failed and exits 1. Plain bash 3.2 (macOS) is enough.
set -euo pipefail

fail() {
  echo "release smoke: $*" >&2
  exit 1
}

version_only=0
if [[ ${1:-} == --version-only ]]; then
  version_only=1
  shift
fi
if (($# == 0)); then
  echo "usage: $0 [--version-only] BCN_COMMAND..." >&2
  exit 2
fi
BCN=("$@")
bcn() { "${BCN[@]}" "$@"; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# (Any line ending: a Windows checkout may end lines in CR LF.)
expected=$(sed -n 's/^  "version": "\([^"]*\)".*$/\1/p' "$here/../deno.json")
[[ -n $expected ]] || fail "no version in $here/../deno.json"

# 1. The version.
printed=$(bcn --version </dev/null) || fail "bcn --version exited $?"
[[ $printed == *"$expected"* ]] ||
  fail "bcn --version printed '$printed', not version $expected"
echo "ok: bcn --version: $printed"
((version_only)) && exit 0

# 2. A dev network, one transfer, Ctrl-C.
port=${BCN_SMOKE_PORT:-1122}
work=$(mktemp -d "${TMPDIR:-/tmp}/bcn_smoke.XXXXXX")
log=$work/dev.log
dev=""
cleanup() {
  if [[ -n $dev ]] && kill -0 "$dev" 2>/dev/null; then kill -KILL "$dev"; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A plain command in the background, so $! is bcn itself, not a subshell.
"${BCN[@]}" dev --nodes 2 --accounts 2 --period 300ms --port "$port" \
  </dev/null >"$log" 2>&1 &
dev=$!

# Polls `$@` every 0.25 s for at most $1 seconds; false when time runs out.
within() {
  local seconds=$1 i
  shift
  for ((i = 0; i < seconds * 4; i++)); do
    "$@" && return 0
    sleep 0.25
  done
  return 1
}

running() {
  kill -0 "$dev" 2>/dev/null ||
    fail "bcn dev exited before it ran: $(tail -n 3 "$log")"
  grep -q ' running, a block ' "$log"
}
within 120 running ||
  fail "bcn dev did not say it runs within 120 s: $(tail -n 3 "$log")"
echo "ok: bcn dev runs on ports $port and $((port + 1))"

example=$(sed -n 's/^  \(bcn tx sign .*\)$/\1/p' "$log")
[[ -n $example ]] || fail "bcn dev printed no example transfer"
# Only what an example transfer holds is run.
[[ $example =~ ^[A-Za-z0-9\ .:/|_=-]+$ ]] ||
  fail "unexpected characters in the example: $example"
to=$(sed -n 's/.*--to \([0-9a-f]\{64\}\).*/\1/p' <<<"$example")
value=$(sed -n 's/.*--value \([0-9]\{1,\}\).*/\1/p' <<<"$example")
data=$(sed -n 's/^data in \(.*\) (.*$/\1/p' "$log")
[[ -n $to && -n $value && -n $data ]] ||
  fail "cannot read the summary of bcn dev: $(cat "$log")"
nodes=("127.0.0.1:$port" "127.0.0.1:$((port + 1))")

balance() {
  bcn account balance --node "$1" --account "$to" </dev/null |
    sed -n 's/.*: \([0-9]\{1,\}\)$/\1/p'
}
before=$(balance "${nodes[0]}") || fail "account balance failed"
[[ -n $before ]] || fail "no balance of $to on ${nodes[0]}"

# The example as printed, with `bcn` being the command under test.
sent=$(eval "$example") || fail "the example transfer failed: $example"
[[ $sent =~ ^tx\ [0-9a-f]{64}$ ]] || fail "the example printed: $sent"
echo "ok: sent $sent"

want=$((before + value))
confirmed_on() { [[ $(balance "$1") == "$want" ]]; }
for node in "${nodes[@]}"; do
  within 60 confirmed_on "$node" ||
    fail "$node does not show $to at $want within 60 s"
done
echo "ok: every node shows the transfer ($to: $before -> $want)"

kill -INT "$dev"
stopped() { ! kill -0 "$dev" 2>/dev/null; }
within 30 stopped || fail "bcn dev did not stop within 30 s of SIGINT"
code=0
wait "$dev" || code=$?
dev=""
((code == 0)) || fail "bcn dev exited $code after SIGINT: $(tail -n 3 "$log")"
[[ ! -e $data ]] || fail "bcn dev left its directory $data behind"
echo "ok: SIGINT stopped bcn dev (exit 0, $data removed)"
