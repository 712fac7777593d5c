#!/usr/bin/env bash
# Side by side on loopback, in one run on one machine: Plutus (release build) and the
# original Python Plutus 1.1.0 from PyPI, both with durable SQLite and the rate limiter off,
# driven by wrk (a native load generator, so the client is not the bottleneck).
# Reports requests/s, events/s, p50/p99, server CPU seconds and peak memory, the ratio, and
# checks that each database holds exactly the events its server acknowledged.
# Usage: Benchmarks/compare.sh [seconds per scenario, default 5]. Only 127.0.0.1 is targeted.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap
command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
duration="${1:-5}"
swift build -c release --product plutus >/dev/null
venv=.build/venv-original
[ -x "$venv/bin/plutus" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check "plutus-agent==1.1.0"; }
work=$(mktemp -d)
trap 'kill $swift_pid $python_pid 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Plutus
export PLUTUS_HOME="$work/swift"
.build/release/plutus init --org Bench --tier enterprise >/dev/null
.build/release/plutus grant --amount 1000000 >/dev/null
swift_key=$(.build/release/plutus keys create --json | python3 -c 'import sys, json; print(json.load(sys.stdin)["secret"])')
swift_port=$(free_port)
PLUTUS_INGEST_RATE_PER_MIN=0 .build/release/plutus serve --port "$swift_port" >"$work/swift.log" 2>&1 &
swift_pid=$!

# The original
export PLUTUS_HOME="$work/python"
mkdir -p "$PLUTUS_HOME"
printf 'ingest:\n  rate_per_min: 0\n  burst: 0\n' >"$PLUTUS_HOME/config.yaml"
"$venv/bin/plutus" init --org Bench --tier enterprise >/dev/null
"$venv/bin/plutus" topup --org Bench --amount 1000000 >/dev/null
python_key=$("$venv/bin/plutus" keys create --org Bench | grep -o 'plutus_sk_[A-Za-z0-9_-]*')
python_port=$(free_port)
"$venv/bin/plutus" serve --port "$python_port" >"$work/python.log" 2>&1 &
python_pid=$!
unset PLUTUS_HOME
for port in "$swift_port" "$python_port"; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
done

single='{"provider":"anthropic","model":"claude-sonnet-4-5","input_tokens":1200,"output_tokens":300}'
batch=$(python3 -c 'import json; print(json.dumps([{"provider":"openai","model":"gpt-5-mini","input_tokens":800,"output_tokens":200}]*100))')
cpu_seconds() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }
peak_mib() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

run() {  # name key port connections body events-per-request pid
  local lua="$work/post.lua"
  printf 'wrk.method = "POST"\nwrk.body = [==[%s]==]\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer %s"\n' "$5" "$2" >"$lua"
  local before; before=$(cpu_seconds "$7")
  local threads=$(( $4 < 2 ? $4 : 2 ))
  local out; out=$(wrk -t"$threads" -c"$4" -d"${duration}s" --latency -s "$lua" "http://127.0.0.1:$3/v1/usage" 2>&1)
  local after; after=$(cpu_seconds "$7")
  local total; total=$(echo "$out" | awk '/requests in/ {print $1}')
  local bad; bad=$(echo "$out" | awk '/Non-2xx/ {print $NF}'); bad=${bad:-0}
  local errors; errors=$(echo "$out" | awk '/Socket errors/ {gsub(",",""); print $4+$6+$8+$10}'); errors=${errors:-0}
  local rps; rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  local p50; p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  local p99; p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  local ok=$((total - bad))
  echo "$1|$4|$rps|$(python3 -c "print(round($ok * $6 / $duration))")|$p50|$p99|$bad|$errors|$(python3 -c "print(round($after - $before, 1))")|$(( ok * $6 ))"
}

echo "Plutus vs the original (plutus-agent 1.1.0), ${duration}s per scenario, $(nproc) cores"
results=()
for target in swift python; do
  if [ $target = swift ]; then key=$swift_key; port=$swift_port; pid=$swift_pid; else key=$python_key; port=$python_port; pid=$python_pid; fi
  acked=0
  for c in 1 8 64; do
    line=$(run "$target 1 event" "$key" "$port" "$c" "$single" 1 "$pid"); results+=("$line"); acked=$((acked + ${line##*|}))
  done
  line=$(run "$target batch of 100" "$key" "$port" 8 "$batch" 100 "$pid"); results+=("$line"); acked=$((acked + ${line##*|}))
  eval "${target}_acked=$acked"
  eval "${target}_peak=$(peak_mib "$pid")"
done
printf '%-22s %5s %9s %10s %9s %9s %8s %7s %8s\n' scenario conns req/s events/s p50 p99 non-2xx errors cpu-s
for line in "${results[@]}"; do IFS='|' read -r n c r e p50 p99 bad err cpu _ <<<"$line"; printf '%-22s %5s %9s %10s %9s %9s %8s %7s %8s\n' "$n" "$c" "$r" "$e" "$p50" "$p99" "$bad" "$err" "$cpu"; done
echo "peak memory: Plutus ${swift_peak} MiB, original ${python_peak} MiB"
for i in 0 1 2 3; do
  IFS='|' read -r n _ _ s _ <<<"${results[$i]}"; IFS='|' read -r _ _ _ p _ <<<"${results[$((i + 4))]}"
  echo "ratio ${n#swift }: $(python3 -c "print(f'{$s / max($p, 1):.1f}x')")"
done
swift_db=$(PLUTUS_HOME="$work/swift" .build/release/plutus balance --json | python3 -c 'import sys, json; print(json.load(sys.stdin)["mtd_events"])')
python_db=$(sqlite3 "$work/python/plutus.db" 'SELECT COUNT(*) FROM usage_events')
# wrk stops with at most one request in flight per connection, which the server may still
# have recorded: stored − acknowledged must lie in [0, 1·1 + 8·1 + 64·1 + 8·100].
in_flight_max=873
check() { local gap=$(( $3 - $2 )); [ $gap -ge 0 ] && [ $gap -le $in_flight_max ] && echo "$1 acknowledged $2 events, its database holds $3 (+$gap in flight at cut-off) ✓" || echo "$1 acknowledged $2 events, its database holds $3 ✗"; }
check Plutus "$swift_acked" "$swift_db"
check original "$python_acked" "$python_db"
