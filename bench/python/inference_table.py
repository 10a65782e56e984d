"""Writes bench/results/inference.{md,csv} from the JSON lines of scripts/compare-inference.

  inference_table.py RAW_DIR ROUNDS "THREADS" WORKLOAD...
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time

SYSTEMS = ["gatun", "pytorch", "onnxruntime"]


def load(path):
    with open(path) as f:
        return json.loads(f.read().strip().splitlines()[-1])


def main():
    raw, rounds, threads, workloads = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4:]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    java = subprocess.run([os.path.join(os.environ.get("JAVA_HOME", ""), "bin", "java"), "-version"],
                          capture_output=True, text=True).stderr.splitlines()[0]
    lines = ["# Batch-1 inference: gatun, PyTorch and ONNX Runtime", "",
             f"{time.strftime('%Y-%m-%d')}, {cpu}, {os.cpu_count()} cores, {platform.platform()}; {java}; "
             "ONNX Runtime 1.20.0 (Java API); PyTorch 1.13 (Debian).", "",
             "Milliseconds per inference, median [min–max] of the measured calls, per round and thread count; "
             "check = the sum of the first output of each system from the same weights and input.", "",
             "| workload | threads | round | gatun ms | PyTorch ms | ONNX Runtime ms | gatun / ORT | gatun RSS MB |"
             " ORT RSS MB |", "|---|---|---|---|---|---|---|---|---|"]
    csv = ["workload,threads,round," + ",".join(f"{s}_median_ms" for s in SYSTEMS) + ",gatun_rss_mb,ort_rss_mb"]
    best = {}
    for w in workloads:
        for r in range(1, rounds + 1):
            for t in threads:
                res = {s: load(os.path.join(raw, f"{s}-{w}-{t}-{r}.json")) for s in SYSTEMS}
                med = {s: statistics.median(res[s]["ms"]) for s in SYSTEMS}
                for s in SYSTEMS:
                    best[(w, s)] = min(best.get((w, s), float("inf")), med[s])
                cells = [f"{med[s]:.4f} [{min(res[s]['ms']):.4f}–{max(res[s]['ms']):.4f}]" for s in SYSTEMS]
                lines.append(f"| {w} | {t} | {r} | " + " | ".join(cells) +
                             f" | {med['gatun'] / med['onnxruntime']:.2f} | {res['gatun']['rss_peak_mb']:.0f} |"
                             f" {res['onnxruntime']['rss_peak_mb']:.0f} |")
                csv.append(f"{w},{t},{r}," + ",".join(f"{med[s]:.5f}" for s in SYSTEMS) +
                           f",{res['gatun']['rss_peak_mb']:.1f},{res['onnxruntime']['rss_peak_mb']:.1f}")
    lines += ["", "Best thread setting of each system:", "",
              "| workload | check (gatun / PyTorch / ORT) | gatun | PyTorch | ONNX Runtime | **gatun / ORT** |"
              " gatun / PyTorch |", "|---|---|---|---|---|---|---|"]
    for w in workloads:
        checks = [load(os.path.join(raw, f"check-{s}-{w}.json"))["losses"][0] for s in SYSTEMS]
        g, p, o = (best[(w, s)] for s in SYSTEMS)
        lines.append(f"| {w} | {' / '.join(f'{c:.6f}' for c in checks)} | {g:.4f} | {p:.4f} | {o:.4f} |"
                     f" **{g / o:.2f}** | {g / p:.2f} |")
    os.makedirs("bench/results", exist_ok=True)
    with open("bench/results/inference.md", "w") as f:
        f.write("\n".join(lines) + "\n")
    with open("bench/results/inference.csv", "w") as f:
        f.write("\n".join(csv) + "\n")


if __name__ == "__main__":
    main()
