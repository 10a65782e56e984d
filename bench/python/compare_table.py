"""Turns the raw JSON of scripts/compare-pytorch into bench/results/compare.md and compare.csv.

  compare_table.py RAW ROUNDS "THREADS" NAME...   writes the table from RAW's JSON files
  compare_table.py --same A.json B.json           exit status 0 when the two files' check losses agree
                                                  (the tolerance of the table's check column), else 1

RAW holds, per workload, check-{gatun,pytorch}-NAME.json and {gatun,pytorch}-NAME-THREADS-ROUND.json, and when
libtorch's column is on also check-libtorch-NAME.json, libtorch-NAME-THREADS-ROUND.json and, where libtorch's
oneDNN path failed the check, check-libtorch-noonednn-NAME.json (the check of the path that was timed).
"""
import datetime
import glob
import json
import os
import platform
import statistics
import subprocess
import sys

# Relative tolerance of the check: float32 sums in another order stay far inside it, a wrong kernel does not.
TOLERANCE = 1e-4


def load(path):
    with open(path) as f:
        return json.load(f)


def spread(ms):
    s = sorted(ms)
    return statistics.median(s), s[0], s[-1]


def same(a, b):
    """Whether two check loss lists agree within TOLERANCE (relative, absolute below 1)."""
    return len(a) == len(b) and all(abs(x - y) <= TOLERANCE * max(1.0, abs(y)) for x, y in zip(a, b))


def max_relative_difference(a, b):
    return max(abs(x - y) / max(1.0, abs(y)) for x, y in zip(a, b))


def losses(values):
    return ", ".join(f"{v:.6f}" for v in values)


def libtorch_check(raw, name, reference):
    """The libtorch part of the check column: its losses, and where its oneDNN path failed the check, that
    path's losses, how far they were off, and that the row was timed with oneDNN off."""
    path = os.path.join(raw, f"check-libtorch-{name}.json")
    if not os.path.exists(path):
        return "–", True
    first = load(path)["losses"]
    retried = os.path.join(raw, f"check-libtorch-noonednn-{name}.json")
    if not os.path.exists(retried):
        return losses(first), same(first, reference)
    timed = load(retried)["losses"]
    note = (f" (oneDNN off; libtorch's oneDNN path gave {losses(first)}, off by up to "
            f"{max_relative_difference(first, reference):.1e} relative)")
    return losses(timed) + note, same(timed, reference)


def main():
    if sys.argv[1] == "--same":
        sys.exit(0 if same(load(sys.argv[2])["losses"], load(sys.argv[3])["losses"]) else 1)
    raw, rounds, threads, names = sys.argv[1], int(sys.argv[2]), [int(t) for t in sys.argv[3].split()], sys.argv[4:]
    with open(os.path.join(raw, "peak_gflops")) as f:
        peak = float(f.read().strip())
    import torch
    cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"], capture_output=True,
                         text=True).stdout.strip()
    jdk = subprocess.run([os.path.join(os.environ.get("JAVA_HOME", ""), "bin", "java"), "-version"],
                         capture_output=True, text=True).stderr.splitlines()[0]
    libtorch_files = sorted(glob.glob(os.path.join(raw, "libtorch-*.json")))
    with_libtorch = bool(libtorch_files)
    libtorch_version = load(libtorch_files[0]).get("libtorch", "?") if with_libtorch else None
    malloc = os.environ.get("GLIBC_TUNABLES") or "glibc's defaults"
    systems = f"PyTorch {torch.__version__} (Debian)"
    if with_libtorch:
        systems += f", libtorch {libtorch_version} (DJL, pytorch-native-cpu)"
    md = ["# gatun vs PyTorch", "",
          f"{datetime.date.today()}, {cpu}, {os.cpu_count()} cores, {platform.platform()}; {jdk}; "
          f"{systems}; measured peak sgemm {peak:.1f} GFLOP/s (n=2048, 2 threads); malloc: {malloc}.",
          ""]
    if with_libtorch:
        md += ["Milliseconds per step: median [min–max] of the measured steps, per round. PyTorch = Debian's "
               "PyTorch 1.13 from Python; libtorch = libtorch 2.7.1 (PyTorch's own build: oneDNN 3.7, MKL) "
               "through the Deep Java Library, running the same model scripted by Debian's PyTorch. /PyTorch and "
               "/libtorch = gatun's time over theirs at the same thread count (below 1: gatun faster); "
               "**best** = gatun's best thread setting against the faster of the two PyTorch builds at its "
               "best. floor = FLOPs / peak. check = the first two losses of each system from the same weights "
               "and batch (dropout off). RSS = peak resident memory of the process.",
               "",
               "| workload | threads | round | gatun ms | PyTorch ms | libtorch ms | /PyTorch | /libtorch | floor ms "
               "| gatun RSS MB | PyTorch RSS MB | libtorch RSS MB |",
               "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        summary = ["", "| workload | check: gatun / PyTorch / libtorch losses | best gatun ms | best PyTorch ms "
                   "| best libtorch ms | /PyTorch | /libtorch | **best ratio** |",
                   "|---|---|---|---|---|---|---|---|"]
    else:
        md += ["Milliseconds per step: median [min–max] of the measured steps, per round. ratio = gatun / PyTorch "
               "at the same thread count (below 1: gatun faster); **best** = gatun's best thread setting against "
               "PyTorch's best. floor = FLOPs / peak. check = the first two losses of both systems from the same "
               "weights and batch (dropout off). RSS = peak resident memory of the process.",
               "",
               "| workload | threads | round | gatun ms | PyTorch ms | ratio | floor ms | gatun RSS MB "
               "| PyTorch RSS MB |",
               "|---|---|---|---|---|---|---|---|---|"]
        summary = ["", "| workload | check (gatun / PyTorch losses) | best gatun ms | best PyTorch ms "
                   "| **best ratio** |",
                   "|---|---|---|---|---|"]
    # Columns 0-12 as before (RatioChart reads ratio, column 9); libtorch's columns follow.
    csv = ["workload,threads,round,gatun_median_ms,gatun_min_ms,gatun_max_ms,pytorch_median_ms,pytorch_min_ms,"
           "pytorch_max_ms,ratio,floor_ms,gatun_rss_mb,pytorch_rss_mb,libtorch_median_ms,libtorch_min_ms,"
           "libtorch_max_ms,ratio_libtorch,libtorch_rss_mb,libtorch_onednn"]
    any_onednn_off = False
    for name in names:
        files = glob.glob(os.path.join(raw, f"gatun-{name}-*.json"))
        if not files:
            md.append(f"| {name} | – | – | not implemented yet |" + " |" * (8 if with_libtorch else 5))
            summary.append(f"| {name} | not implemented yet |" + " |" * (6 if with_libtorch else 3))
            csv.append(f"{name}" + "," * 18)
            continue
        best_g, best_p, best_l = float("inf"), float("inf"), float("inf")
        onednn = None
        for r in range(1, rounds + 1):
            for t in threads:
                g = load(os.path.join(raw, f"gatun-{name}-{t}-{r}.json"))
                p = load(os.path.join(raw, f"pytorch-{name}-{t}-{r}.json"))
                gm, glo, ghi = spread(g["ms"])
                pm, plo, phi = spread(p["ms"])
                floor = g["flops"] / (peak * 1e9) * 1e3
                best_g, best_p = min(best_g, gm), min(best_p, pm)
                row = (f"{name},{t},{r},{gm:.5f},{glo:.5f},{ghi:.5f},{pm:.5f},{plo:.5f},{phi:.5f},"
                       f"{gm / pm:.5f},{floor:.6f},{g['rss_peak_mb']:.1f},{p['rss_peak_mb']:.1f}")
                lead = f"| {name} | {t} | {r} | {gm:.3f} [{glo:.3f}–{ghi:.3f}] | {pm:.3f} [{plo:.3f}–{phi:.3f}] "
                lpath = os.path.join(raw, f"libtorch-{name}-{t}-{r}.json")
                if with_libtorch and os.path.exists(lpath):
                    lt = load(lpath)
                    lm, llo, lhi = spread(lt["ms"])
                    best_l = min(best_l, lm)
                    onednn = lt.get("onednn")
                    any_onednn_off = any_onednn_off or onednn is False
                    mark = " ¹" if onednn is False else ""
                    md.append(lead + f"| {lm:.3f} [{llo:.3f}–{lhi:.3f}]{mark} | {gm / pm:.3f} | {gm / lm:.3f} "
                              f"| {floor:.4f} | {g['rss_peak_mb']:.0f} | {p['rss_peak_mb']:.0f} "
                              f"| {lt['rss_peak_mb']:.0f} |")
                    csv.append(row + f",{lm:.5f},{llo:.5f},{lhi:.5f},{gm / lm:.5f},{lt['rss_peak_mb']:.1f},"
                               f"{str(onednn).lower()}")
                elif with_libtorch:
                    md.append(lead + f"| – | {gm / pm:.3f} | – | {floor:.4f} | {g['rss_peak_mb']:.0f} "
                              f"| {p['rss_peak_mb']:.0f} | – |")
                    csv.append(row + ",,,,,,")
                else:
                    md.append(lead + f"| {gm / pm:.3f} | {floor:.4f} | {g['rss_peak_mb']:.0f} "
                              f"| {p['rss_peak_mb']:.0f} |")
                    csv.append(row + ",,,,,,")
        cg = load(os.path.join(raw, f"check-gatun-{name}.json"))["losses"]
        cp = load(os.path.join(raw, f"check-pytorch-{name}.json"))["losses"]
        ok = same(cg, cp)
        if with_libtorch:
            lcheck, lok = libtorch_check(raw, name, cp)
            verdict = "same" if ok and lok else "**DIFFERENT**"
            check = f"{verdict}: {losses(cg)} / {losses(cp)} / {lcheck}"
            timed = best_l < float("inf")
            best_other = min(best_p, best_l)
            summary.append(f"| {name} | {check} | {best_g:.3f} | {best_p:.3f} | "
                           f"{f'{best_l:.3f}' if timed else '–'} | {best_g / best_p:.3f} | "
                           f"{f'{best_g / best_l:.3f}' if timed else '–'} | **{best_g / best_other:.3f}** |")
        else:
            check = f"{'same' if ok else '**DIFFERENT**'}: {losses(cg)} / {losses(cp)}"
            summary.append(f"| {name} | {check} | {best_g:.3f} | {best_p:.3f} | **{best_g / best_p:.3f}** |")
    md.extend(summary)
    if any_onednn_off:
        md += ["", "¹ timed with libtorch's oneDNN path off (`torch.backends.mkldnn.enabled = False`): its oneDNN "
               "path failed the check (the check column gives that path's losses)."]
    with open("bench/results/compare.md", "w") as f:
        f.write("\n".join(md) + "\n")
    with open("bench/results/compare.csv", "w") as f:
        f.write("\n".join(csv) + "\n")


if __name__ == "__main__":
    main()
