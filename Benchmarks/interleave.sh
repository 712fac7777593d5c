#!/usr/bin/env bash
# Runs two builds of `plutus serve` in turns (A, B, A, B, …) under the same wrk loads as
# plutus-bench's ingest rows, each on a fresh durable SQLite database, and prints one line
# per build, round and load: requests/s, events/s, p50/p99 and the server's CPU µs per
# request. Both builds are started from their own `plutus` binary, so an older build is
# driven by today's loads (its own bench may predate them).
#
#   Benchmarks/interleave.sh OLD/plutus NEW/plutus [seconds per load] [rounds]
#
# PLUTUS_INTERLEAVE_LOADS picks the loads ("load connections events-per-request", separated
# by ";"), e.g. "pairs 64 1; bare 64 1". For "pairs" (a hold, then its settle, on each
# connection) the events are the settles: events/s is pairs/s.
#
# Needs wrk and a release plutus-bench (for the Lua scripts). Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 A/plutus B/plutus [seconds] [rounds]" >&2; exit 2; }
builds=("$1" "$2")
duration="${3:-5}"
rounds="${4:-2}"
bench=.build/release/plutus-bench
[ -x "$bench" ] || { echo "build plutus-bench first: swift build -c release --product plutus-bench" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks_per_second=$(getconf CLK_TCK)

# load connections events-per-request
loads=("bare 64 1" "realistic 64 1" "bare-batch 8 100" "workspace-batch 8 100" "realistic-batch 8 100" "realistic-batch 32 100")
if [ -n "${PLUTUS_INTERLEAVE_LOADS:-}" ]; then IFS=';' read -r -a loads <<<"$PLUTUS_INTERLEAVE_LOADS"; fi
printf '%-6s %-6s %-18s %5s %9s %10s %8s %8s %12s %9s\n' round build load conns req/s events/s p50-ms p99-ms cpu-us/req non-2xx
run_number=0
for round in $(seq "$rounds"); do
  for index in 0 1; do
    plutus="${builds[$index]}"
    label=$([ "$index" = 0 ] && echo A || echo B)
    export PLUTUS_HOME="$work/$round-$label"
    "$plutus" init --org Bench --tier enterprise >/dev/null
    "$plutus" grant --amount 1000000 >/dev/null
    key=$("$plutus" keys create --json | python3 -c 'import sys, json; print(json.load(sys.stdin)["secret"])')
    port=$(free_port)
    PLUTUS_INGEST_RATE_PER_MIN=0 "$plutus" serve --port "$port" >"$PLUTUS_HOME/serve.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
    acked=0
    for entry in "${loads[@]}"; do
      read -r load connections events <<<"$entry"
      run_number=$((run_number + 1))
      "$bench" wrk-script --load "$load" --key "$key" --run "$run_number" >"$work/load.lua"
      before=$(cpu_ticks "$pid")
      out=$(wrk -t"$((connections < 2 ? connections : 2))" -c"$connections" -d"${duration}s" -s "$work/load.lua" \
        "http://127.0.0.1:$port/v1/usage")
      after=$(cpu_ticks "$pid")
      ok=$(echo "$out" | awk '$1 == "status" && $2 >= 200 && $2 < 300 {n += $3} END {print n + 0}')
      settled=$(echo "$out" | awk '$1 == "status" && $2 == 200 {n += $3} END {print n + 0}')
      bad=$(echo "$out" | awk '$1 == "status" && ($2 < 200 || $2 >= 300) {n += $3} END {print n + 0}')
      seconds=$(echo "$out" | awk '$1 == "seconds" {print $2}')
      p50=$(echo "$out" | awk '$1 == "p50" {printf "%.2f", $2}')
      p99=$(echo "$out" | awk '$1 == "p99" {printf "%.2f", $2}')
      recorded=$([ "$load" = pairs ] && echo "$((settled * events))" || echo "$((ok * events))")
      acked=$((acked + recorded))
      python3 - "$round" "$label" "$load" "$connections" "$ok" "$recorded" "$seconds" "$p50" "$p99" \
        "$((after - before))" "$ticks_per_second" "$bad" <<'PY'
import sys
r, b, load, c, ok, recorded, seconds, p50, p99, ticks, hz, bad = sys.argv[1:]
ok, recorded, seconds = int(ok), int(recorded), float(seconds)
cpu_us = int(ticks) / int(hz) * 1e6 / max(ok, 1)
print(f"{r:<6} {b:<6} {load:<18} {c:>5} {ok / seconds:>9.0f} {recorded / seconds:>10.0f} {p50:>8} {p99:>8} {cpu_us:>12.0f} {bad:>9}")
PY
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    stored=$("$plutus" balance --json | python3 -c 'import sys, json; print(json.load(sys.stdin)["mtd_events"])')
    [ "$stored" -ge "$acked" ] || { echo "build $label stored $stored events but acknowledged $acked" >&2; exit 1; }
    rm -rf "$PLUTUS_HOME"
  done
done
echo "A = ${builds[0]}, B = ${builds[1]}; ${duration}s per load; every acknowledged event was stored"
