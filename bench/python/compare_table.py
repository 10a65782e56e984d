"""Turns the raw JSON of scripts/compare-pytorch into bench/results/compare.md and compare.csv."""
import datetime
import glob
import json
import os
import platform
import statistics
import subprocess
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def spread(ms):
    s = sorted(ms)
    return statistics.median(s), s[0], s[-1]


def main():
    raw, rounds, threads, names = sys.argv[1], int(sys.argv[2]), [int(t) for t in sys.argv[3].split()], sys.argv[4:]
    with open(os.path.join(raw, "peak_gflops")) as f:
        peak = float(f.read().strip())
    import torch
    cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"], capture_output=True,
                         text=True).stdout.strip()
    jdk = subprocess.run([os.path.join(os.environ.get("JAVA_HOME", ""), "bin", "java"), "-version"],
                         capture_output=True, text=True).stderr.splitlines()[0]
    md = ["# gatun vs PyTorch", "",
          f"{datetime.date.today()}, {cpu}, {os.cpu_count()} cores, {platform.platform()}; {jdk}; "
          f"PyTorch {torch.__version__} (Debian); measured peak sgemm {peak:.1f} GFLOP/s (n=2048, 2 threads).",
          "",
          "Milliseconds per step: median [min–max] of the measured steps, per round. ratio = gatun / PyTorch "
          "at the same thread count (below 1: gatun faster); **best** = gatun's best thread setting against "
          "PyTorch's best. floor = FLOPs / peak. check = the first two losses of both systems from the same "
          "weights and batch (dropout off). RSS = peak resident memory of the process.",
          "",
          "| workload | threads | round | gatun ms | PyTorch ms | ratio | floor ms | gatun RSS MB | PyTorch RSS MB |",
          "|---|---|---|---|---|---|---|---|---|"]
    csv = ["workload,threads,round,gatun_median_ms,gatun_min_ms,gatun_max_ms,pytorch_median_ms,pytorch_min_ms,"
           "pytorch_max_ms,ratio,floor_ms,gatun_rss_mb,pytorch_rss_mb"]
    summary = ["", "| workload | check (gatun / PyTorch losses) | best gatun ms | best PyTorch ms | **best ratio** |",
               "|---|---|---|---|---|"]
    for name in names:
        files = glob.glob(os.path.join(raw, f"gatun-{name}-*.json"))
        if not files:
            md.append(f"| {name} | – | – | not implemented yet | | | | | |")
            summary.append(f"| {name} | not implemented yet | | | |")
            csv.append(f"{name},,,,,,,,,,,,")
            continue
        best_g, best_p = float("inf"), float("inf")
        for r in range(1, rounds + 1):
            for t in threads:
                g = load(os.path.join(raw, f"gatun-{name}-{t}-{r}.json"))
                p = load(os.path.join(raw, f"pytorch-{name}-{t}-{r}.json"))
                gm, glo, ghi = spread(g["ms"])
                pm, plo, phi = spread(p["ms"])
                floor = g["flops"] / (peak * 1e9) * 1e3
                best_g, best_p = min(best_g, gm), min(best_p, pm)
                md.append(f"| {name} | {t} | {r} | {gm:.3f} [{glo:.3f}–{ghi:.3f}] | {pm:.3f} [{plo:.3f}–{phi:.3f}] | "
                          f"{gm / pm:.3f} | {floor:.4f} | {g['rss_peak_mb']:.0f} | {p['rss_peak_mb']:.0f} |")
                csv.append(f"{name},{t},{r},{gm:.5f},{glo:.5f},{ghi:.5f},{pm:.5f},{plo:.5f},{phi:.5f},"
                           f"{gm / pm:.5f},{floor:.6f},{g['rss_peak_mb']:.1f},{p['rss_peak_mb']:.1f}")
        cg = load(os.path.join(raw, f"check-gatun-{name}.json"))["losses"]
        cp = load(os.path.join(raw, f"check-pytorch-{name}.json"))["losses"]
        ok = all(abs(a - b) <= 1e-4 * max(1.0, abs(b)) for a, b in zip(cg, cp))
        check = f"{'same' if ok else '**DIFFERENT**'}: {cg[0]:.6f}, {cg[1]:.6f} / {cp[0]:.6f}, {cp[1]:.6f}"
        summary.append(f"| {name} | {check} | {best_g:.3f} | {best_p:.3f} | **{best_g / best_p:.3f}** |")
    md.extend(summary)
    with open("bench/results/compare.md", "w") as f:
        f.write("\n".join(md) + "\n")
    with open("bench/results/compare.csv", "w") as f:
        f.write("\n".join(csv) + "\n")


if __name__ == "__main__":
    main()
