"""Turns the raw JSON of scripts/compare-pytorch into bench/results/compare.md and compare.csv (COMPARE_OUT.md and
COMPARE_OUT.csv when COMPARE_OUT is set).

  compare_table.py RAW ROUNDS "THREADS" NAME...   writes the table from RAW's JSON files
  compare_table.py --same A.json B.json           exit status 0 when the two files' checks agree (the
                                                  tolerance of the table's check column), else 1

RAW holds, per workload, check-{gatun,pytorch}-NAME.json and {gatun,pytorch}-NAME-THREADS-ROUND.json, and when
libtorch's column is on also check-libtorch-NAME.json, libtorch-NAME-THREADS-ROUND.json and, where libtorch's
oneDNN path failed the check, check-libtorch-noonednn-NAME.json (the check of the path that was timed); where
libtorch could not run a row at all, libtorch-notrun-NAME.txt says why.

A generation row (its JSON has "new_tokens", the characters one step generates) is shown in characters per
second, higher is better; its ratios stay gatun's time over the other's (the other's characters per second over
gatun's), so below 1 still means gatun is faster. Its check compares the generated tokens instead of losses.
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


def generation_agreement(a, ref):
    """Whether generation check a agrees with the reference check ref (PyTorch's), and how, in words: the same
    tokens, or the same up to a step where ref's two best logits were a near-tie (within TOLERANCE, so float
    rounding may pick either) and the first token's logits alike."""
    logits_ok = same(a["first_logits"], ref["first_logits"])
    logits = f"first logits within {max_relative_difference(a['first_logits'], ref['first_logits']):.1e}"
    n = len(ref["tokens"])
    if a["tokens"] == ref["tokens"]:
        return logits_ok, f"{n}/{n} tokens alike, {logits}"
    k = next((i for i, (x, y) in enumerate(zip(a["tokens"], ref["tokens"])) if x != y), min(len(a["tokens"]), n))
    if k >= n or len(a["tokens"]) != n:
        return False, f"{len(a['tokens'])} tokens against {n}"
    margin = ref["margins"][k]
    tie = margin <= TOLERANCE * max(1.0, max(abs(v) for v in ref["first_logits"]))
    what = "a near-tie" if tie else "no near-tie"
    return tie and logits_ok, f"tokens alike up to step {k} of {n}, {what} there (margin {margin:.1e}), {logits}"


def agree(a, b):
    """Whether two checks agree: generation checks by their tokens, others by their losses."""
    if "tokens" in a or "tokens" in b:
        return "tokens" in a and "tokens" in b and generation_agreement(a, b)[0]
    return same(a["losses"], b["losses"])


def libtorch_check(raw, name, reference):
    """The libtorch part of the check column: its losses, and where its oneDNN path failed the check, that
    path's losses, how far they were off, and that the row was timed with oneDNN off; for a generation row,
    how its tokens compare with PyTorch's. reference: PyTorch's check."""
    path = os.path.join(raw, f"check-libtorch-{name}.json")
    notrun = os.path.join(raw, f"libtorch-notrun-{name}.txt")
    if os.path.exists(notrun):
        with open(notrun) as f:
            return f"libtorch not run: {f.read().strip()}", True
    if not os.path.exists(path):
        return "–", True
    first = load(path)
    retried = os.path.join(raw, f"check-libtorch-noonednn-{name}.json")
    if "tokens" in first:
        checked = load(retried) if os.path.exists(retried) else first
        ok, words = generation_agreement(checked, reference)
        return f"libtorch {words}" + (" (oneDNN off)" if checked is not first else ""), ok
    if not os.path.exists(retried):
        return losses(first["losses"]), same(first["losses"], reference["losses"])
    timed = load(retried)["losses"]
    note = (f" (oneDNN off; libtorch's oneDNN path gave {losses(first['losses'])}, off by up to "
            f"{max_relative_difference(first['losses'], reference['losses']):.1e} relative)")
    return losses(timed) + note, same(timed, reference["losses"])


def gatun_pytorch_check(cg, cp):
    """The gatun and PyTorch part of the check column and whether they agree."""
    if "tokens" not in cg:
        return f"{losses(cg['losses'])} / {losses(cp['losses'])}", same(cg["losses"], cp["losses"])
    ok, words = generation_agreement(cg, cp)
    cached = ", ".join(f"{system} {'=' if c['uncached_same'] else '**≠**'} uncached"
                       for system, c in (("gatun", cg), ("PyTorch", cp)))
    return (f"gatun {words}; cached greedy {cached}; smallest margin {min(cp['margins']):.1e}",
            ok and cg["uncached_same"] and cp["uncached_same"])


def figure(ms, tokens):
    """A system's cell: milliseconds per step, median [min–max], or for a generation row of `tokens` tokens
    per step, tokens (characters) per second, median [min–max]."""
    m, lo, hi = spread(ms)
    if tokens:
        return f"{rate(tokens, m):.0f} char/s [{rate(tokens, hi):.0f}–{rate(tokens, lo):.0f}]"
    return f"{m:.3f} [{lo:.3f}–{hi:.3f}]"


def best(ms, tokens):
    """A best median: milliseconds, or characters per second for a generation row."""
    return f"{rate(tokens, ms):.0f} char/s" if tokens else f"{ms:.3f}"


def floor_cell(floor, tokens):
    """The floor: milliseconds, or for a generation row the characters per second the floor allows."""
    return f"≤ {rate(tokens, floor):.3g} char/s" if tokens else f"{floor:.4f}"


def rate(tokens, ms):
    return tokens / ms * 1e3


def main():
    if sys.argv[1] == "--same":
        sys.exit(0 if agree(load(sys.argv[2]), load(sys.argv[3])) else 1)
    raw, rounds, threads, names = sys.argv[1], int(sys.argv[2]), [int(t) for t in sys.argv[3].split()], sys.argv[4:]
    with open(os.path.join(raw, "peak_gflops")) as f:
        peak = float(f.read().strip())
    import torch
    cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"], capture_output=True,
                         text=True).stdout.strip()
    jdk = subprocess.run([os.path.join(os.environ.get("JAVA_HOME", ""), "bin", "java"), "-version"],
                         capture_output=True, text=True).stderr.splitlines()[0]
    libtorch_files = sorted(glob.glob(os.path.join(raw, "libtorch-*.json")))
    with_libtorch = bool(libtorch_files or glob.glob(os.path.join(raw, "libtorch-notrun-*.txt")))
    libtorch_version = load(libtorch_files[0]).get("libtorch", "?") if libtorch_files else "?"
    malloc = os.environ.get("GLIBC_TUNABLES") or "glibc's defaults"
    systems = f"PyTorch {torch.__version__} (Debian)"
    if with_libtorch:
        systems += f", libtorch {libtorch_version} (DJL, pytorch-native-cpu)"
    md = ["# gatun vs PyTorch", "",
          f"{datetime.date.today()}, {cpu}, {os.cpu_count()} cores, {platform.platform()}; {jdk}; "
          f"{systems}; measured peak sgemm {peak:.1f} GFLOP/s (n=2048, 2 threads); malloc: {malloc}."
          + (f" Warm-up of every run: {os.environ['COMPARE_WARMUP']}." if os.environ.get("COMPARE_WARMUP") else ""),
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
    # new_tokens: the characters one step of a generation row makes (its figures in characters per second are
    # new_tokens / median seconds); empty for the other rows.
    csv = ["workload,threads,round,gatun_median_ms,gatun_min_ms,gatun_max_ms,pytorch_median_ms,pytorch_min_ms,"
           "pytorch_max_ms,ratio,floor_ms,gatun_rss_mb,pytorch_rss_mb,libtorch_median_ms,libtorch_min_ms,"
           "libtorch_max_ms,ratio_libtorch,libtorch_rss_mb,libtorch_onednn,new_tokens"]
    any_onednn_off = False
    generation_rows = []
    notrun_rows = []
    for name in names:
        files = glob.glob(os.path.join(raw, f"gatun-{name}-*.json"))
        if not files:
            md.append(f"| {name} | – | – | not implemented yet |" + " |" * (8 if with_libtorch else 5))
            summary.append(f"| {name} | not implemented yet |" + " |" * (6 if with_libtorch else 3))
            csv.append(f"{name}" + "," * 19)
            continue
        best_g, best_p, best_l = float("inf"), float("inf"), float("inf")
        tokens = load(files[0]).get("new_tokens", 0)
        if tokens:
            generation_rows.append(name)
        notrun = os.path.exists(os.path.join(raw, f"libtorch-notrun-{name}.txt"))
        if notrun:
            notrun_rows.append(name)
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
                lead = (f"| {name} | {t} | {r} | {figure(g['ms'], tokens)} | {figure(p['ms'], tokens)} ")
                lpath = os.path.join(raw, f"libtorch-{name}-{t}-{r}.json")
                if with_libtorch and os.path.exists(lpath):
                    lt = load(lpath)
                    lm, llo, lhi = spread(lt["ms"])
                    best_l = min(best_l, lm)
                    onednn = lt.get("onednn")
                    any_onednn_off = any_onednn_off or onednn is False
                    mark = " ¹" if onednn is False else ""
                    md.append(lead + f"| {figure(lt['ms'], tokens)}{mark} | {gm / pm:.3f} | {gm / lm:.3f} "
                              f"| {floor_cell(floor, tokens)} | {g['rss_peak_mb']:.0f} | {p['rss_peak_mb']:.0f} "
                              f"| {lt['rss_peak_mb']:.0f} |")
                    csv.append(row + f",{lm:.5f},{llo:.5f},{lhi:.5f},{gm / lm:.5f},{lt['rss_peak_mb']:.1f},"
                               f"{str(onednn).lower()},{tokens or ''}")
                elif with_libtorch:
                    missing = "not run ²" if notrun else "–"
                    md.append(lead + f"| {missing} | {gm / pm:.3f} | – | {floor_cell(floor, tokens)} "
                              f"| {g['rss_peak_mb']:.0f} | {p['rss_peak_mb']:.0f} | – |")
                    csv.append(row + f",,,,,,,{tokens or ''}")
                else:
                    md.append(lead + f"| {gm / pm:.3f} | {floor_cell(floor, tokens)} | {g['rss_peak_mb']:.0f} "
                              f"| {p['rss_peak_mb']:.0f} |")
                    csv.append(row + f",,,,,,,{tokens or ''}")
        cg = load(os.path.join(raw, f"check-gatun-{name}.json"))
        cp = load(os.path.join(raw, f"check-pytorch-{name}.json"))
        pair, ok = gatun_pytorch_check(cg, cp)
        if with_libtorch:
            lcheck, lok = libtorch_check(raw, name, cp)
            verdict = "same" if ok and lok else "**DIFFERENT**"
            check = f"{verdict}: {pair} / {lcheck}" if not tokens else f"{verdict}: {pair}; {lcheck}"
            timed = best_l < float("inf")
            best_other = min(best_p, best_l)
            summary.append(f"| {name} | {check} | {best(best_g, tokens)} | {best(best_p, tokens)} | "
                           f"{best(best_l, tokens) if timed else ('not run ²' if notrun else '–')} "
                           f"| {best_g / best_p:.3f} | {f'{best_g / best_l:.3f}' if timed else '–'} "
                           f"| **{best_g / best_other:.3f}** |")
        else:
            check = f"{'same' if ok else '**DIFFERENT**'}: {pair}"
            summary.append(f"| {name} | {check} | {best(best_g, tokens)} | {best(best_p, tokens)} "
                           f"| **{best_g / best_p:.3f}** |")
    md.extend(summary)
    if generation_rows:
        md += ["", f"{', '.join(generation_rows)}: a generation row, its figures in characters per second (higher "
               "is better): one step is one greedy generation of the row's new characters after its prompt, keys "
               "and values of earlier positions cached, and a figure is the new characters over the step's time "
               "(median [min–max] over the steps); floor: the most characters per second FLOPs / peak allows. Its "
               "ratios are still times, gatun's over the other's (the other's characters per second over "
               "gatun's): below 1, gatun faster. gatun runs `GPT.generate`; PyTorch a hand-written cache "
               "(`CachedGreedy` in bench/python/workloads.py: 1.13's TransformerEncoderLayer has none) from "
               "Python; libtorch the same `CachedGreedy` scripted, the whole cached loop in one TorchScript call. "
               "check: the new tokens of every system from the same weights and prompt against PyTorch's, up to "
               "a near-tie (two best logits within the tolerance) where float rounding may pick either, and the "
               "logits of the first new token; cached greedy generation against uncached (the whole sequence "
               "re-read for every token) in gatun and PyTorch; margin: the smallest gap between PyTorch's best "
               "and second-best logit over the steps."]
    if any_onednn_off:
        md += ["", "¹ timed with libtorch's oneDNN path off (`torch.backends.mkldnn.enabled = False`): its oneDNN "
               "path failed the check (the check column gives that path's losses)."]
    if notrun_rows:
        md += ["", "² libtorch did not run " + ", ".join(notrun_rows) + "; the check column says why."]
    # COMPARE_OUT: where scripts/compare-pytorch's OUT puts the table (OUT.md, OUT.csv).
    out = os.environ.get("COMPARE_OUT", "bench/results/compare")
    with open(out + ".md", "w") as f:
        f.write("\n".join(md) + "\n")
    with open(out + ".csv", "w") as f:
        f.write("\n".join(csv) + "\n")


if __name__ == "__main__":
    main()
