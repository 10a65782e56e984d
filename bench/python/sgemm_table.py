"""Turns the raw JMH and numpy results of scripts/bench-sgemm into a Markdown table."""
import datetime
import glob
import json
import os
import platform
import statistics
import subprocess
import sys


def gflops(n, us):
    return 2.0 * n ** 3 / (us * 1e-6) / 1e9


def jmh_us(path):
    with open(path) as f:
        data = json.load(f)
    return data[0]["primaryMetric"]["rawData"][0]  # per-iteration µs/op of the one fork


def numpy_us(path):
    with open(path) as f:
        return json.load(f)["us"]


def fmt(values, n):
    g = sorted(gflops(n, u) for u in values)
    return statistics.median(g), g[0], g[-1]


def main():
    raw, rounds, variants, sizes, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), \
        [int(s) for s in sys.argv[4].split()], [int(t) for t in sys.argv[5].split()]
    cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"], capture_output=True,
                         text=True).stdout.strip()
    import numpy
    print("# sgemm: gatun vs numpy on the same OpenBLAS\n")
    print(f"{datetime.date.today()}, {cpu}, {os.cpu_count()} cores, {platform.platform()}, "
          f"numpy {numpy.__version__} (Debian, OpenBLAS pthread build via alternatives), "
          f"gatun through JMH (3×1 s warm-up, 5×1 s measured). GFLOP/s = 2n³/time: median [min–max] "
          f"over the measured iterations of each round. ratio = gatun/numpy GFLOP/s (above 1: gatun faster).\n")
    header = "| round | threads | n | numpy GFLOP/s |"
    sep = "|---|---|---|---|"
    for v in variants:
        header += f" gatun ({v}) GFLOP/s | ratio ({v}) |"
        sep += "---|---|"
    print(header)
    print(sep)
    for r in range(1, rounds + 1):
        for t in threads:
            for n in sizes:
                npm, nlo, nhi = fmt(numpy_us(f"{raw}/numpy-{t}-{n}-{r}.json"), n)
                row = f"| {r} | {t} | {n} | {npm:.1f} [{nlo:.1f}–{nhi:.1f}] |"
                for v in variants:
                    gm, glo, ghi = fmt(jmh_us(f"{raw}/gatun-{v}-{t}-{n}-{r}.json"), n)
                    row += f" {gm:.1f} [{glo:.1f}–{ghi:.1f}] | {gm / npm:.3f} |"
                print(row)


if __name__ == "__main__":
    main()
