#!/usr/bin/env bash
# The inference server's HTTP stack against one alternative, measured with Debian's wrk on loopback:
#   jdk    gatun serve (com.sun.net.httpserver, a virtual thread per request);
#   netty  dev.gatun.serve.NettyInferenceFrontEnd from benchmarks.jar (Netty 4.2, epoll), the same route
#          with the same request parser, session (gatun serve's default settings) and response writer.
# Per round and stack: the MLP (784-512-256-10) at one connection (wrk -t1 -c1: the HTTP round trip),
# then LeNet-5 at 64 connections (wrk -t2 -c64: throughput), each after a 5 s warm-up, on a fresh
# server. The stacks alternate which goes first from round to round, so that drift (heat, other load)
# does not favour one. Same JVM flags for both. Prints a markdown table and writes it to OUT.
# Run it on an otherwise idle machine: wrk and the server share its cores.
#   REPEATS=3  DURATION=20 (LeNet-5, s)  MLP_DURATION=15 (s)  OUT=bench/results/http-stacks.md
set -euo pipefail
cd "$(dirname "$0")/.."
GATUN_SETUP_EXTRA="wrk" source scripts/setup >/dev/null
REPEATS=${REPEATS:-3}
DURATION=${DURATION:-20}
MLP_DURATION=${MLP_DURATION:-15}
OUT=${OUT:-bench/results/http-stacks.md}
WARMUP=5
for v in REPEATS DURATION MLP_DURATION; do
    if ! [[ "${!v}" =~ ^[1-9][0-9]*$ ]]; then
        echo "http-stacks: $v must be a positive integer, got '${!v}'" >&2
        exit 2
    fi
done
source bench/wrk-common.sh

# serve STACK FILE NAME: starts that stack's server for one model on a free port; sets $server and $port.
serve() {
    local log="$work/$1-$3.log"
    case "$1" in
        jdk) "${JAVA[@]}" -jar "$CLI" serve "$2" --name "$3" --port 0 > "$log" 2>&1 & ;;
        netty) "${JAVA[@]}" -cp "$BENCH" dev.gatun.serve.NettyInferenceFrontEnd "$2" --name "$3" --port 0 \
            > "$log" 2>&1 & ;;
    esac
    server=$!
    await_port "$log" "http-stacks: the $1 server"
}

# row STACK ROUND WORKLOAD WRK_OUTPUT: one tab-separated line of results.tsv from wrk's report.
row() {
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(wrk_figures "$4")" >> "$work/results.tsv"
}

# measure STACK ROUND: both workloads on fresh servers of that stack.
measure() {
    local url
    serve "$1" "$work/mlp.safetensors" mlp
    url="http://127.0.0.1:$port/v2/models/mlp/infer"
    wrk -t1 -c1 -d"${WARMUP}s" -s "$work/mlp.lua" "$url" > /dev/null
    wrk -t1 -c1 -d"${MLP_DURATION}s" --timeout 10s -s "$work/mlp.lua" "$url" > "$work/$1-$2-mlp.wrk"
    stop_server
    row "$1" "$2" "MLP, 1 connection" "$work/$1-$2-mlp.wrk"

    serve "$1" "$work/lenet5.safetensors" lenet5
    url="http://127.0.0.1:$port/v2/models/lenet5/infer"
    wrk -t2 -c64 -d"${WARMUP}s" -s "$work/lenet5.lua" "$url" > /dev/null
    wrk -t2 -c64 -d"${DURATION}s" --timeout 10s -s "$work/lenet5.lua" "$url" > "$work/$1-$2-lenet5.wrk"
    stop_server
    row "$1" "$2" "LeNet-5, 64 connections" "$work/$1-$2-lenet5.wrk"
}

"${JAVA[@]}" -cp "$BENCH" dev.gatun.bench.SaveModel lenet5 "$work/lenet5.safetensors"
"${JAVA[@]}" -cp "$BENCH" dev.gatun.bench.SaveModel mlp "$work/mlp.safetensors"
wrk_body lenet5 784 1,1,28,28
wrk_body mlp 784 1,784

: > "$work/results.tsv"
started=$(date +%s)
for round in $(seq 1 "$REPEATS"); do
    if (( round % 2 == 1 )); then order=(jdk netty); else order=(netty jdk); fi
    for stack in "${order[@]}"; do
        echo "http-stacks: round $round/$REPEATS, $stack" >&2
        measure "$stack" "$round"
    done
done
elapsed=$(( $(date +%s) - started ))

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
java_version=$("$JAVA_HOME/bin/java" -version 2>&1 | head -1) || true
netty_version=$(unzip -p "$BENCH" META-INF/io.netty.versions.properties \
    | sed -n 's/^netty-codec-http\.version=//p' | head -1) || true
mkdir -p "$(dirname "$OUT")"
{
    echo "# The inference server's HTTP stack: JDK httpserver against Netty"
    echo
    echo "$(date +%Y-%m-%d), $cpu, $(nproc) cores; wrk and the server on the same machine over loopback;"
    echo "$java_version; Netty $netty_version. Each stack serves with gatun serve's default session settings."
    echo "\`REPEATS=$REPEATS DURATION=$DURATION MLP_DURATION=$MLP_DURATION bash bench/http-stacks.sh\`"
    echo "(${elapsed} s). jdk: \`gatun serve\` (com.sun.net.httpserver, a virtual thread per request);"
    echo "netty: \`dev.gatun.serve.NettyInferenceFrontEnd\` (same parser, session and response writer)."
    echo "Each run follows a ${WARMUP} s warm-up on a fresh server; the stacks alternate which goes first."
    echo "Latencies in ms; errors are wrk's connect, read, write, timeout and non-2xx counts together."
    echo
    python3 - "$work/results.tsv" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print("| stack | round | workload | requests/s | p50 | p90 | p99 | errors |")
print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
for stack, rnd, workload, rps, p50, p90, p99, errors in sorted(rows, key=lambda r: (r[2], r[0], int(r[1]))):
    print(f"| {stack} | {rnd} | {workload} | {float(rps):.0f} | {p50} | {p90} | {p99} | {errors} |")
print()
print("Median over the rounds:")
print()
print("| stack | workload | requests/s | p50 | p90 | p99 | errors (all rounds) |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
groups = {}
for r in rows:
    groups.setdefault((r[2], r[0]), []).append(r)
for (workload, stack), rs in sorted(groups.items()):
    med = [statistics.median(float(r[i]) for r in rs) for i in range(3, 7)]
    print(f"| {stack} | {workload} | {med[0]:.0f} | {med[1]:.3f} | {med[2]:.3f} | {med[3]:.3f} | "
          f"{sum(int(r[7]) for r in rs)} |")
PY
} > "$OUT"
cat "$OUT"
