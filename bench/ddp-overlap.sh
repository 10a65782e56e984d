#!/usr/bin/env bash
# Data-parallel steps with the gradient allreduces overlapped with backward and without (both modes of
# DistributedDataParallel, alternating, several repeats), for the MLP 784-512-256-10 and LeNet-5 of
# bench/results/distributed.md: per-step time, communication time and the part of it gradientsReady waited.
# Processes run one thread each, on one machine (mpirun --oversubscribe --bind-to none). Run on an idle
# machine with a core per process; bench/results/distributed.md ("Overlap with backward") has the command
# its figures came from.
#
#   bench/ddp-overlap.sh [steps] [warm-up steps] [repeats] [bucket bytes] [models] [processes]
#
# defaults: 100 steps, 20 warm-up, 5 repeats, 1 MiB buckets (MLP: 2 buckets, LeNet-5: 3), mlp,lenet5, 2
# processes. The engine's jar is built when missing; rebuild it after changing the engine
# (mvn -B -ntp -q -DskipTests -pl engine -am package).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-100}
WARMUP=${2:-20}
REPEATS=${3:-5}
BUCKET=${4:-1048576}
MODELS=${5:-mlp,lenet5}
NP=${6:-2}
source scripts/setup >/dev/null
JAR=engine/target/gatun-engine-0.1.0-SNAPSHOT-cli.jar
if [ ! -f "$JAR" ]; then
    mvn -B -ntp -q -DskipTests -pl engine -am package
fi
ROOT=()
if [ "$(id -u)" = 0 ]; then ROOT=(--allow-run-as-root); fi
exec mpirun --oversubscribe "${ROOT[@]}" --bind-to none -np "$NP" \
    -x OMP_NUM_THREADS=1 -x OPENBLAS_NUM_THREADS=1 \
    "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Dgatun.threads=1 -cp "$JAR" \
    bench/mpi/DdpOverlapBench.java "$STEPS" "$WARMUP" "$REPEATS" "$BUCKET" "$MODELS"
