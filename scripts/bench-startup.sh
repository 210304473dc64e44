#!/usr/bin/env bash
# Measures a node's start-up time and memory on chains of several sizes.
# Usage: scripts/bench-startup.sh [blocks ...]   (default: 10000 100000 1000000)
# Loopback only; each node is stopped before the next size.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/naivechain" ./cmd/naivechain
port=27101
printf '| blocks | store size | fill time | start-up (to HTTP answering) | RSS after start-up | RSS after GET /node (full health check) | RSS after streaming GET /data |\n|---|---|---|---|---|---|---|\n'
for n in "${sizes[@]}"; do
  dir="$work/n$n"
  fill=$("$work/naivechain" fill -n "$n" --data-dir "$dir" -p "$port" | sed -E 's/.* in ([^ ]+) .*/\1/')
  size=$(du -h "$dir/chain.db" | cut -f1)
  t0=$(date +%s%N)
  "$work/naivechain" -p "$port" --host 127.0.0.1 --advertise 127.0.0.1 --data-dir "$dir" --log-level error &
  pid=$!
  until curl -sf "http://127.0.0.1:$((port + 1))/status" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { echo "node died" >&2; exit 1; }
    sleep 0.005
  done
  t1=$(date +%s%N)
  rss() { awk '/^VmRSS/ {printf "%.0f MB", $2/1024}' "/proc/$pid/status"; }
  anon() { awk '/^RssAnon/ {printf "%.0f MB", $2/1024}' "/proc/$pid/status"; }
  r0="$(rss) (anon $(anon))"
  curl -sf "http://127.0.0.1:$((port + 1))/node" >/dev/null
  r1="$(rss) (anon $(anon))"
  curl -sf "http://127.0.0.1:$((port + 1))/data" >/dev/null
  r2="$(rss) (anon $(anon))"
  kill "$pid"; wait "$pid" || true
  printf '| %s | %s | %s | %d ms | %s | %s | %s |\n' "$n" "$size" "$fill" $(((t1 - t0) / 1000000)) "$r0" "$r1" "$r2"
  port=$((port + 2))
done
