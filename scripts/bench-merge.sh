#!/usr/bin/env bash
# Measures how long two networks that grew apart take to become one, with
# built binaries on loopback: node A alone takes N writes, node B alone N/2
# (each founds its own network), then POST /peers on B connects it to A.
# By the fork-choice rule A's longer chain wins: B moves its blocks off its
# chain, joins A's network and re-proposes its writes. Timed from the POST
# until both nodes report the same data_count of N + N/2 + 1 blocks and
# both list two voters (polled every 10 ms).
# Usage: scripts/bench-merge.sh [writes]   (default 5000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000}
base=9720 # node i: peer port base + 2i, HTTP on the port after it
limit=120
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/naivechain" ./cmd/naivechain

name=bench-merge
. scripts/lib-nodes.sh
load() { # load i count
  "$work/naivechain" bench --targets "$(url "$1")" --count "$2" --duration 120s --json >"$work/bench$1.json"
  local acked errors
  acked=$(field acknowledged <"$work/bench$1.json")
  errors=$(field errors_total <"$work/bench$1.json")
  if [ "$acked" != "$2" ] || [ "$errors" != 0 ]; then
    echo "bench-merge: node $1: $acked of $2 writes acknowledged, $errors errors" >&2
    exit 1
  fi
}
merged() {
  local a b
  a=$(count 0 2>/dev/null) b=$(count 1 2>/dev/null)
  [ "$a" = "$want" ] && [ "$b" = "$want" ] && [ "$(voters 0 2>/dev/null)" = 2 ] && [ "$(voters 1 2>/dev/null)" = 2 ]
}

for i in 0 1; do
  start "$i"
  waitfor "leader on node $i" sh -c "curl -sf --max-time 2 '$(url "$i")/status' | grep -q '\"role\":\"leader\"'"
done
load 0 "$n"
load 1 $((n / 2))
want=$((n + n / 2 + 1))

t0=$(now)
curl -sf --max-time 5 -X POST -H 'Content-Type: application/json' \
  -d "{\"host\": \"127.0.0.1\", \"port\": \"$base\"}" "$(url 1)/peers" >/dev/null
waitfor "single network of $want blocks" merged
t1=$(now)
ms=$(((t1 - t0) / 1000000))
echo "merge: $n + $((n / 2)) writes, one network of $want blocks in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s" \
  "($((n / 2)) entries re-proposed; from POST /peers until both hold the chain and vote)"
