# Sourced by bench/serve-batching.sh (from the repository root, after scripts/setup; once shared with
# bench/http-stacks.sh): the jars, a work directory removed on exit, waiting for a server's port, wrk's
# request body and its figures.

CLI=engine/target/gatun-engine-0.1.0-SNAPSHOT-cli.jar
BENCH=bench/target/benchmarks.jar
if [[ ! -f "$CLI" || ! -f "$BENCH" ]]; then
    mvn -B -ntp -q -DskipTests package
fi
JAVA=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED)
work=$(mktemp -d)
server=""
cleanup() { [[ -n "$server" ]] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# await_port LOG WHAT: waits for the server $server to print its address to LOG; sets $port. On failure
# prints the log and "WHAT did not start", and returns 1.
await_port() {
    for _ in $(seq 1 150); do
        port=$(grep -o 'http://127.0.0.1:[0-9]*' "$1" | head -1 | sed 's/.*://') || true
        [[ -n "$port" ]] && return 0
        kill -0 "$server" 2>/dev/null || break
        sleep 0.2
    done
    cat "$1" >&2
    echo "$2 did not start" >&2
    return 1
}

# stop_server: SIGTERM to $server (a graceful stop), then waits for it.
stop_server() {
    kill -TERM "$server"
    wait "$server" 2>/dev/null || true
    server=""
}

# wrk_body NAME ELEMENTS SHAPE: $work/NAME.lua, a wrk script POSTing one FP32 input of ELEMENTS values
# (as scripts/load-test), whose done() prints the request and error counts and the latency percentiles.
wrk_body() {
    python3 - "$1" "$2" "$3" > "$work/$1.lua" <<'PY'
import json, random, sys
name, n, shape = sys.argv[1], int(sys.argv[2]), [int(d) for d in sys.argv[3].split(",")]
random.seed(1)
body = json.dumps({"inputs": [{"name": "input", "shape": shape, "datatype": "FP32",
                               "data": [round(random.random(), 6) for _ in range(n)]}]})
print('wrk.method = "POST"')
print('wrk.headers["Content-Type"] = "application/json"')
print("wrk.body = " + json.dumps(body))
print('''done = function(summary, latency, requests)
  io.write(string.format("requests %d, errors: connect %d read %d write %d status %d timeout %d\\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
  io.write(string.format("p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms\\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end''')
PY
}

# wrk_figures WRK_OUTPUT: "requests/s, p50, p90, p99, errors" of a wrk report, tab-separated.
wrk_figures() {
    python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rps = re.search(r"Requests/sec:\s*([0-9.]+)", text).group(1)
e = re.search(r"errors: connect (\d+) read (\d+) write (\d+) status (\d+) timeout (\d+)", text)
p = re.search(r"p50 ([0-9.]+) ms, p90 ([0-9.]+) ms, p99 ([0-9.]+) ms", text)
print("\t".join([rps, *p.groups(), str(sum(int(x) for x in e.groups()))]))
PY
}
