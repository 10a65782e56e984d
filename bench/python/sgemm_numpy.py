"""C = A @ B for square float32 matrices in numpy, timed like the JMH benchmark SgemmBenchmark.

Prints one JSON object: {"n": n, "threads": t, "us": [per-call microseconds of each measurement
iteration]}. Threads are set through OPENBLAS_NUM_THREADS by the caller (numpy's OpenBLAS reads it at
import). Run with Debian's /usr/bin/python3 so that numpy uses Debian's OpenBLAS.
"""
import json
import os
import sys
import time

import numpy as np


def main():
    n = int(sys.argv[1])
    warmup_s, iterations, iteration_s = float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)

    def iteration(seconds):
        calls = 0
        start = time.perf_counter()
        while True:
            np.matmul(a, b, out=c)
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return elapsed / calls * 1e6

    end = time.perf_counter() + warmup_s
    while time.perf_counter() < end:
        iteration(0.2)
    us = [iteration(iteration_s) for _ in range(iterations)]
    print(json.dumps({"n": n, "threads": int(os.environ.get("OPENBLAS_NUM_THREADS", "0")), "us": us}))


if __name__ == "__main__":
    main()
