# Helpers for the benchmark scripts that run built nodes on loopback.
# The sourcing script sets: work (temp dir holding the binary and logs),
# base (node i: peer port base + 2i, HTTP on the port after it), limit
# (seconds any wait may take), name (for messages), and the array pids.

start() { # start i [flags...]
  local i=$1
  shift
  "$work/naivechain" -p $((base + 2 * i)) --host 127.0.0.1 --advertise 127.0.0.1 \
    --data-dir "$work/n$i" --log-level info "$@" >>"$work/n$i.log" 2>&1 &
  pids[i]=$!
}
url() { echo "http://127.0.0.1:$((base + 2 * $1 + 1))"; }
field() { sed -nE "s/.*\"$1\":\"?([^\",}]*).*/\1/p"; }
count() { curl -sf --max-time 2 "$(url "$1")/node" | field data_count; }
voters() { curl -sf --max-time 2 "$(url "$1")/status" | grep -o '"voter":true' | wc -l; }
now() { date +%s%N; }
# waitfor WHAT CMD...: runs CMD until it succeeds, at most $limit seconds.
waitfor() {
  local what=$1 end=$(($(now) + limit * 1000000000))
  shift
  until "$@"; do
    if [ "$(now)" -gt "$end" ]; then
      echo "$name: no $what after ${limit}s; logs:" >&2
      tail -n 5 "$work"/n*.log >&2
      exit 1
    fi
    sleep 0.01
  done
}
