#!/usr/bin/env bash
# Measures how fast a new node catches up with a long chain: node A is
# filled with N blocks (naivechain fill), node B joins it and fetches the
# chain through a raft snapshot and block batches. Loopback only.
# Usage: scripts/bench-catchup.sh [blocks]   (default 200000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/naivechain" ./cmd/naivechain
"$work/naivechain" fill -n "$n" --data-dir "$work/a" -p 27201 >/dev/null
"$work/naivechain" -p 27201 --host 127.0.0.1 --advertise 127.0.0.1 --data-dir "$work/a" --log-level error &
pids+=($!)
until curl -sf http://127.0.0.1:27202/status | grep -q '"role":"leader"'; do sleep 0.01; done
id=$(curl -sf http://127.0.0.1:27202/node | sed -E 's/.*"peer_id":"([^"]+)".*/\1/')
want=$((n + 1))
t0=$(date +%s%N)
"$work/naivechain" -p 27203 --host 127.0.0.1 --advertise 127.0.0.1 --data-dir "$work/b" --log-level error -pid "$id" -pport 27201 &
pids+=($!)
until curl -sf http://127.0.0.1:27204/node 2>/dev/null | grep -q "\"data_count\":$want,"; do sleep 0.01; done
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
echo "caught up $n blocks in $ms ms: $((n * 1000 / (ms > 0 ? ms : 1))) blocks/s (from process start, join included)"
