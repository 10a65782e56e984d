#!/usr/bin/env bash
# Dynamic batching in gatun serve, measured with Debian's wrk on loopback: LeNet-5 at CONNECTIONS
# concurrent connections (one 28x28 image per request) with batching off (--max-batch 1) and with the
# settings in CONFIGS ("MAX_BATCH:DELAY_US" pairs), each on a fresh server after a 5 s warm-up, the
# settings in a rotated order from round to round. Reports requests/s, p50/p90/p99 latency, errors and
# the mean rows per batch the server ran (from /metrics). Prints a markdown table and writes it to OUT.
# Run it on an otherwise idle machine: wrk and the server share its cores.
#   REPEATS=2  DURATION=20 (s)  CONNECTIONS=64  CONFIGS="1:0 4:100 8:200 16:500 32:1000"
#   OUT=bench/results/serve-batching.md
set -euo pipefail
cd "$(dirname "$0")/.."
GATUN_SETUP_EXTRA="wrk" source scripts/setup >/dev/null
REPEATS=${REPEATS:-2}
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-64}
CONFIGS=${CONFIGS:-"1:0 4:100 8:200 16:500 32:1000"}
OUT=${OUT:-bench/results/serve-batching.md}
WARMUP=5
for v in REPEATS DURATION CONNECTIONS; do
    if ! [[ "${!v}" =~ ^[1-9][0-9]*$ ]]; then
        echo "serve-batching: $v must be a positive integer, got '${!v}'" >&2
        exit 2
    fi
done
read -r -a configs <<< "$CONFIGS"
for c in "${configs[@]}"; do
    if ! [[ "$c" =~ ^[1-9][0-9]*:[0-9]+$ ]]; then
        echo "serve-batching: each of CONFIGS must be MAX_BATCH:DELAY_US, got '$c'" >&2
        exit 2
    fi
done
source bench/wrk-common.sh

# serve MAX_BATCH DELAY_US: gatun serve for the LeNet-5 file on a free port; sets $server and $port.
serve() {
    local log="$work/serve-$1-$2.log"
    "${JAVA[@]}" -jar "$CLI" serve "$work/lenet5.safetensors" --name lenet5 --port 0 --max-batch "$1" \
        --max-delay-us "$2" > "$log" 2>&1 &
    server=$!
    await_port "$log" "serve-batching: the server"
}

"${JAVA[@]}" -cp "$BENCH" dev.gatun.bench.SaveModel lenet5 "$work/lenet5.safetensors"
wrk_body lenet5 784 1,1,28,28

: > "$work/results.tsv"
started=$(date +%s)
n=${#configs[@]}
for round in $(seq 1 "$REPEATS"); do
    for k in $(seq 0 $((n - 1))); do
        c=${configs[$(( (k + round - 1) % n ))]}
        batch=${c%%:*}
        delay=${c##*:}
        echo "serve-batching: round $round/$REPEATS, max batch $batch, delay $delay us" >&2
        serve "$batch" "$delay"
        url="http://127.0.0.1:$port/v2/models/lenet5/infer"
        wrk -t2 -c"$CONNECTIONS" -d"${WARMUP}s" -s "$work/lenet5.lua" "$url" > /dev/null
        curl -s "http://127.0.0.1:$port/metrics" > "$work/before.txt"
        wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s -s "$work/lenet5.lua" "$url" > "$work/run.wrk"
        curl -s "http://127.0.0.1:$port/metrics" > "$work/after.txt"
        stop_server
        python3 - "$batch" "$delay" "$round" "$(wrk_figures "$work/run.wrk")" "$work/before.txt" \
            "$work/after.txt" >> "$work/results.tsv" <<'PY'
import re, sys
batch, delay, rnd, figures, before, after = sys.argv[1:7]
def batches(path):
    m = {}
    for line in open(path):
        g = re.match(r'gatun_batch_size_(sum|count)\{[^}]*\} ([0-9.eE+]+)', line)
        if g:
            m[g.group(1)] = m.get(g.group(1), 0) + float(g.group(2))
    return m
b, a = batches(before), batches(after)
runs = a.get("count", 0) - b.get("count", 0)
rows = a.get("sum", 0) - b.get("sum", 0)
mean = rows / runs if runs else float("nan")
print("\t".join([batch, delay, rnd, figures, "%.2f" % mean]))
PY
    done
done
elapsed=$(( $(date +%s) - started ))

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
mkdir -p "$(dirname "$OUT")"
{
    echo "# Dynamic batching in gatun serve: LeNet-5 at $CONNECTIONS connections"
    echo
    echo "$(date +%Y-%m-%d), $cpu, $(nproc) cores; wrk and the server on the same machine over loopback;"
    echo "\`REPEATS=$REPEATS DURATION=$DURATION CONNECTIONS=$CONNECTIONS CONFIGS=\"$CONFIGS\" bash bench/serve-batching.sh\`"
    echo "(${elapsed} s). Each run follows a ${WARMUP} s warm-up on a fresh server with gatun serve's defaults"
    echo "otherwise (a worker per core). Latencies in ms; rows/batch is the mean over the run from /metrics."
    echo
    python3 - "$work/results.tsv" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print("| max batch | delay µs | round | requests/s | p50 | p90 | p99 | errors | rows/batch |")
print("|---|---|---|---|---|---|---|---|---|")
for r in sorted(rows, key=lambda r: (int(r[0]), int(r[2]))):
    print("| " + " | ".join(r) + " |")
print()
print("Medians over the rounds:")
print()
print("| max batch | delay µs | requests/s | p50 | p99 | rows/batch |")
print("|---|---|---|---|---|---|")
keys = sorted({(int(r[0]), int(r[1])) for r in rows})
for k in keys:
    rs = [r for r in rows if (int(r[0]), int(r[1])) == k]
    med = lambda i: statistics.median(float(r[i]) for r in rs)
    print("| %d | %d | %.0f | %.3f | %.3f | %.2f |" % (k[0], k[1], med(3), med(4), med(6), med(8)))
PY
} > "$OUT"
cat "$OUT"
