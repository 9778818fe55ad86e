"""Paired comparisons of saved runs (issue 21) on the real catalogues, and the ``compare`` CLI's
whole-process time.

Usage::

    RECSYS_DATA_DIR=/work/realdata python benchmarks/bench_compare.py [--catalogues ml-100k ...]
        [--models wals popularity ...]

For each catalogue of ``benchmarks/catalogues.py``: one 20% per-user holdout (seed 0, the
protocol's test split); WALS (defaults), EASE, item-kNN and popularity trained on its training
part and saved as runs in a temporary store; pairs of runs compared with
:func:`recsys_core.evaluation.compare.compare_runs` (every test user, k = 10). The first table
gives, per pair and metric, both means, the difference A - B with its 95% interval and p-value,
and the users compared. The second checks the printed paired-t half-width of each per-user
metric against two recomputations from the per-user values: the t formula again (numpy + scipy,
ratio should be 1) and a percentile bootstrap of the mean difference (2,000 resamples; ratio
near 1 when the t interval's normal approximation holds). Last, the wall time of a whole
``python -m recsys_core compare`` process (import, two run loads, split rebuild, scoring,
statistics) for the catalogues the CLI can load again from their folder (not Last.fm, which
benchmarks/catalogues.py reads with its own reader).
"""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalogues import CATALOGUES, load_catalogue  # noqa: E402

from recsys_core.evaluation.compare import compare_runs  # noqa: E402
from recsys_core.evaluation.split import holdout_split  # noqa: E402
from recsys_core.models import trainable_models  # noqa: E402
from recsys_core.runs.store import RunStore  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODELS = ("wals", "ease", "item_knn", "popularity")
PAIRS = (("wals", "popularity"), ("ease", "wals"), ("item_knn", "wals"), ("ease", "item_knn"))
TABLE_METRICS = ("ndcg@10", "recall@10", "coverage", "gini")
CHECK_METRICS = ("ndcg@10", "recall@10")
CLI_CATALOGUES = ("ml-100k", "ml-latest-small")


def _bootstrap_half_width(d: np.ndarray, resamples: int = 2000, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, 200):
        picks = rng.integers(0, d.size, size=(min(200, resamples - start), d.size))
        means[start:start + len(picks)] = d[picks].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return float(high - low) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalogues", nargs="+", default=list(CATALOGUES), choices=CATALOGUES)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS,
                        help="models to train (pairs needing another are skipped); EASE's "
                             "17,632 x 17,632 inverse on lastfm-2k is most of the run")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="bench-compare-")
    os.environ.setdefault("RECSYS_CACHE_DIR", str(Path(tmp.name) / "cache"))
    rows, checks, cli_times = [], [], []
    for name in args.catalogues:
        data = load_catalogue(name)
        split = holdout_split(data, 0.2, seed=0)
        store = RunStore(Path(tmp.name) / name)
        runs = {}
        for kind in args.models:
            start = time.perf_counter()
            model = trainable_models()[kind]().fit(split.train)
            fit = time.perf_counter() - start
            store.save(model, data, name=kind, split=split, exact_name=True)
            runs[kind] = store.load(kind)
            print(f"{name}: {kind} trained in {fit:.1f} s", file=sys.stderr, flush=True)
        for a, b in [(a, b) for a, b in PAIRS if a in runs and b in runs]:
            start = time.perf_counter()
            c = compare_runs(runs[a], runs[b], k=10, max_users=sys.maxsize, split=split)
            took = time.perf_counter() - start
            for metric in TABLE_METRICS:
                d = c.differences[metric]
                rows.append((name, f"{a} vs {b}", metric, d.mean_a, d.mean_b, d.diff,
                             f"[{d.ci_low:+.4f}, {d.ci_high:+.4f}]", d.p_value, d.n_users,
                             d.method, took))
            for metric in CHECK_METRICS:
                x, y = c.per_user_a[metric], c.per_user_b[metric]
                keep = ~(np.isnan(x) | np.isnan(y))
                diff = (x - y)[keep]
                t_half = (stats.t.ppf(0.975, diff.size - 1) * diff.std(ddof=1)
                          / math.sqrt(diff.size))
                printed = (c.differences[metric].ci_high - c.differences[metric].ci_low) / 2
                checks.append((name, f"{a} vs {b}", metric, printed, t_half / printed,
                               _bootstrap_half_width(diff) / printed))
        if name in CLI_CATALOGUES and {"wals", "popularity"} <= set(runs):
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "recsys_core", "compare",
                                   str(store.root / "wals"), str(store.root / "popularity")],
                                  cwd=REPO, capture_output=True, text=True)
            cli_times.append((name, time.perf_counter() - start, done.returncode,
                              done.stdout.strip().splitlines()[-1] if done.stdout else
                              done.stderr.strip()))
    print("| catalogue | pair (A vs B) | metric | mean A | mean B | A - B | 95% interval | p | "
          "users | method | compare s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for cat, pair, metric, ma, mb, diff, ci, p, n, method, took in rows:
        print(f"| {cat} | {pair} | {metric} | {ma:.4f} | {mb:.4f} | {diff:+.4f} | {ci} | "
              f"{p:.2g} | {n:,} | {method} | {took:.1f} |")
    print()
    print("| catalogue | pair | metric | printed half-width | t recomputed / printed | "
          "bootstrap / printed |")
    print("|---|---|---|---|---|---|")
    for cat, pair, metric, half, t_ratio, boot_ratio in checks:
        print(f"| {cat} | {pair} | {metric} | {half:.4f} | {t_ratio:.4f} | {boot_ratio:.3f} |")
    print()
    print("| catalogue | `compare wals popularity` whole process s | exit | verdict |")
    print("|---|---|---|---|")
    for cat, seconds, code, verdict in cli_times:
        print(f"| {cat} | {seconds:.1f} | {code} | {verdict} |")
    tmp.cleanup()


if __name__ == "__main__":
    main()
