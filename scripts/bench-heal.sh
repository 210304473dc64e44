#!/usr/bin/env bash
# Measures how long a follower takes to hold the leader's chain again after
# it missed N writes, on a 3-node network of built binaries on loopback.
#   pause (default): the follower is frozen with SIGSTOP (its sockets stay
#     open, it answers nothing), the other two commit N writes, then it is
#     thawed with SIGCONT; timed from the SIGCONT.
#   --kill: the follower is killed with SIGKILL, the other two commit N
#     writes, then it is started again on its data dir; timed from that start
#     (process start-up and reconnection included).
# The clock stops when the follower's GET /node data_count equals the
# leader's (polled every 10 ms). The writes are sent by `naivechain bench
# --targets` to the leader and the other follower.
# Usage: scripts/bench-heal.sh [--kill] [writes]   (default 5000)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=pause
if [ "${1:-}" = "--kill" ]; then mode=kill; shift; fi
n=${1:-5000}
base=9700 # node i: peer port base + 2i, HTTP on the port after it
limit=120 # seconds any wait may take before the run fails
work=$(mktemp -d)
pids=()
cleanup() {
  # A stopped process ignores SIGTERM until it is continued.
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/naivechain" ./cmd/naivechain

name=bench-heal
. scripts/lib-nodes.sh
three_voters() { for i in 0 1 2; do [ "$(voters "$i" 2>/dev/null)" = 3 ] || return 1; done; }
caught_up() { [ "$(count "$follower" 2>/dev/null)" = "$want" ]; }

start 0
waitfor "HTTP on node 0" curl -sf --max-time 2 -o /dev/null "$(url 0)/status"
id0=$(curl -sf "$(url 0)/node" | field peer_id)
start 1 -pid "$id0" -pport "$base"
start 2 -pid "$id0" -pport "$base"
waitfor "network of three voters" three_voters

leader_id=$(curl -sf "$(url 0)/status" | field leader)
leader=""
for i in 0 1 2; do
  [ "$(curl -sf "$(url "$i")/node" | field peer_id)" = "$leader_id" ] && leader=$i
done
[ -n "$leader" ] || { echo "bench-heal: no leader among the nodes" >&2; exit 1; }
follower=$(((leader + 2) % 3)) # the two nodes other than the leader
other=$(((leader + 1) % 3))
before=$(count "$follower")

if [ "$mode" = pause ]; then
  kill -STOP "${pids[follower]}"
else
  kill -KILL "${pids[follower]}"
  wait "${pids[follower]}" 2>/dev/null || true
fi
"$work/naivechain" bench --targets "$(url "$leader"),$(url "$other")" --count "$n" --duration 120s --json >"$work/bench.json"
acked=$(field acknowledged <"$work/bench.json")
errors=$(field errors_total <"$work/bench.json")
if [ "$acked" != "$n" ] || [ "$errors" != 0 ]; then
  echo "bench-heal: $acked of $n writes acknowledged, $errors errors:" >&2
  cat "$work/bench.json" >&2
  exit 1
fi
want=$(count "$leader")

t0=$(now)
if [ "$mode" = pause ]; then
  kill -CONT "${pids[follower]}"
else
  start "$follower"
fi
waitfor "convergence of node $follower" caught_up
t1=$(now)

gap=$((want - before))
ms=$(((t1 - t0) / 1000000))
via=log
grep -qi "installed snapshot" "$work/n$follower.log" && via=snapshot
since=$([ "$mode" = pause ] && echo SIGCONT || echo "the restart")
echo "$mode: gap $gap blocks, converged in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s," \
  "$((gap * 1000 / (ms > 0 ? ms : 1))) blocks/s (from $since until data_count equals the leader's; caught up from the raft $via)"
