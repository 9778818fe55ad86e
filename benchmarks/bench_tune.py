"""Sweeps on MovieLens 100K (issue 13): time of 30 WALS trials, tuned WALS vs EASE on test, and
TPE vs random at the same budget.

Split: bench_implicit.py's per-user 80/20 holdout (seed 0); the sweep's validation split is carved
from its training part the same way (20%, seed 1: the Sweep's seed), so the search never sees the
test ratings. The best setting is refitted on the whole training part and scored once on test
(NDCG@10 and Recall@20 over the full catalogue, training items excluded, as bench_implicit.py).
EASE is tuned on the same validation split by a grid sweep over bench_implicit's grid.

TPE vs random: the best validation NDCG@10 after 10, 20 and 30 trials, per seed (the seed also
draws the validation split, shared by both strategies), trials not saved.

    RECSYS_DATA_DIR=../shared/data python benchmarks/bench_tune.py [--trials 30] [--seeds 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys_core.data import load_movielens_100k  # noqa: E402
from recsys_core.evaluation.metrics import evaluate_model  # noqa: E402
from recsys_core.evaluation.split import holdout_split  # noqa: E402
from recsys_core.models import EASE, WALS  # noqa: E402
from recsys_core.runs.store import RunStore  # noqa: E402
from recsys_core.tuning import Dimension, Sweep, parse_dimension  # noqa: E402

#: Searched on Rendle et al.'s shifted, frequency-scaled regularization, pinned here so the ranges
#: mean the same whatever WALS's defaults are.
WALS_SPACE = ("regularization=0.003:0.3:log", "unobserved_weight=0.03:1:log", "factors=32,64,128")
WALS_FIXED = {"regularization_type": "frequency", "regularization_exponent": 1.0}


def table(title, header, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)), flush=True)


def test_scores(model, split):
    m20 = evaluate_model(model, split.test, k=20, beyond_accuracy=False)
    m10 = evaluate_model(model, split.test, k=10, beyond_accuracy=False)
    return m10["ndcg@10"], m20["recall@20"]


def tuned_vs_ease(dataset, split, trials, store):
    dims = [parse_dimension(WALS, text) for text in WALS_SPACE]
    sweep = Sweep(store, "bench-wals", "wals", dims, strategy="tpe", n_trials=trials, seed=1,
                  fixed_params=WALS_FIXED)
    start = time.perf_counter()
    sweep.run(dataset, split)
    search = time.perf_counter() - start
    start = time.perf_counter()
    info, _ = sweep.refit_best(dataset, split)
    refit = time.perf_counter() - start
    wals = store.load(info.name).model
    ease_sweep = Sweep(store, "bench-ease", "ease",
                       [Dimension("regularization", choices=(100.0, 300.0, 1000.0))],
                       strategy="grid", n_trials=3, seed=1)
    ease_sweep.run(dataset, split)
    ease = EASE(**ease_sweep.best_params()).fit(split.train)
    best = sweep.best()
    rows = [(f"WALS tuned ({trials} TPE trials) {_fmt(sweep.best_params(), dims)}",
             f"{best.value:.4f}", *(f"{v:.4f}" for v in test_scores(wals, split))),
            (f"WALS defaults {_fmt(WALS().get_params(), dims)}", "-", *(f"{v:.4f}" for v in test_scores(WALS().fit(split.train),
                                                                      split))),
            (f"EASE tuned {ease_sweep.best_params()}", f"{ease_sweep.best().value:.4f}",
             *(f"{v:.4f}" for v in test_scores(ease, split)))]
    table(f"ml-100k per-user 80/20 holdout (seed 0); search on a 20% validation split of the "
          f"training part (seed 1); test scored once", ["model", "val NDCG@10", "test NDCG@10",
                                                        "test Recall@20"], rows)
    n_saved = len([i for i in store.list() if (i.sweep or {}).get("name") == "bench-wals"])
    table("time of the WALS sweep (trials fitted with per-epoch validation and early stopping, "
          "each saved as a run)", ["trials", "runs saved", "search s", "s per trial",
                                   "refit + test s", "target"],
          [(len(sweep.trials), n_saved, f"{search:.1f}", f"{search / len(sweep.trials):.2f}",
            f"{refit:.1f}", "< 60 s")])


def _fmt(params, dims):
    return ", ".join(f"{d.name}={params[d.name]:.3g}" if isinstance(params[d.name], float)
                     else f"{d.name}={params[d.name]}" for d in dims)


def tpe_vs_random(dataset, split, trials, seeds, store):
    dims = [parse_dimension(WALS, text) for text in WALS_SPACE]
    checkpoints = [n for n in (10, 20, 30, trials) if n <= trials]
    checkpoints = sorted(set(checkpoints))
    rows, means = [], {}
    for strategy in ("random", "tpe"):
        for seed in seeds:
            sweep = Sweep(store, f"cmp-{strategy}-{seed}", "wals", dims, strategy=strategy,
                          n_trials=trials, seed=seed, save_trials=False,
                          fixed_params=WALS_FIXED)
            start = time.perf_counter()
            found = sweep.run(dataset, split)
            seconds = time.perf_counter() - start
            running, best = [], float("-inf")
            for t in found:
                best = max(best, t.value)
                running.append(best)
            cells = [f"{running[n - 1]:.4f}" for n in checkpoints]
            for n in checkpoints:
                means.setdefault((strategy, n), []).append(running[n - 1])
            rows.append((strategy, seed, *cells, f"{seconds:.0f}"))
    for strategy in ("random", "tpe"):
        rows.append((strategy, "mean", *(f"{sum(means[strategy, n]) / len(seeds):.4f}"
                                         for n in checkpoints), ""))
    table(f"best validation NDCG@10 after N trials (WALS, {len(dims)} hyperparameters)",
          ["strategy", "seed", *(f"N={n}" for n in checkpoints), "s"], rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3, help="seeds of TPE vs random (0 skips)")
    args = parser.parse_args()
    root = os.environ.get("RECSYS_DATA_DIR")
    if not root:
        sys.exit("set RECSYS_DATA_DIR to the folder holding ml-100k/")
    dataset = load_movielens_100k(Path(root) / "ml-100k")
    split = holdout_split(dataset, test_fraction=0.2, seed=0)
    WALS(iterations=1).fit(split.train)  # numba compiles outside the timings
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(tmp)
        tuned_vs_ease(dataset, split, args.trials, store)
        if args.seeds:
            tpe_vs_random(dataset, split, args.trials, range(args.seeds), store)


if __name__ == "__main__":
    main()
