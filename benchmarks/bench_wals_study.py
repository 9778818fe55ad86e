"""WALS's default search space from validation scores only (issue 13).

The ranges that ``tune --model wals`` and the Tune page search (``WALS.default_search`` with
``WALS.tuning_range``) are chosen here, on MovieLens 100K, **without the test ratings**.

Protocol: bench_tune.py's per-user 80/20 holdout (seed 0); validation splits carved from its
training part (20% of each user's training ratings, seeds ``--seeds``, default 0-4: the splits a
Sweep with those seeds draws first). Every setting of a grid over the levers the search tunes at
the default regularization type (frequency-scaled lambda (n + w0 n_other)^nu, nu = 0.5: lambda,
the unobserved weight w0 and the dimension d) is fitted on each inner training part and scored
on its validation part (NDCG@10 over the full catalogue, training items excluded, as
bench_implicit.py).

The choice, stated before looking at any result: the best setting is the one with the highest
mean validation NDCG@10; a setting is *as good* when its mean paired shortfall against the best
(over the validation seeds) is under two standard errors of that shortfall. Each range is the
span of the as-good settings' values, widened by half a grid step (log scale) on each side.

Data size (``--trend``; this rule was written down before its first run): a validation fit sees
64% of the ratings, the refit 80%, 1.25 times as many per user. To see which way the best
settings move with that step without test, the grid is also fitted on 80% of each user's ratings
in each inner training part (51% of the data; a per-user holdout of it, seed 1000 + s) and scored
on the same validation parts. Per lever, the location of the as-good settings is the geometric
mean of their values; from 51% to 64% it moves by a factor r, and the refit (one more such step)
is expected to move it by r again: the printed refit ranges are the 64% ranges times r.

Only then, and only as a check that is **not used for the choice**, the best setting and the
as-good ones are refitted on the whole training part and scored on test (``--no-test`` skips it).

    RECSYS_DATA_DIR=../shared/data python benchmarks/bench_wals_study.py [--seeds 0 1 2 3 4] \
        [--trend] [--no-test] [--quiet]
"""
from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys_core.data import load_movielens_100k  # noqa: E402
from recsys_core.evaluation.metrics import evaluate_model  # noqa: E402
from recsys_core.evaluation.split import holdout_split  # noqa: E402
from recsys_core.models import WALS  # noqa: E402

EASE_TEST = 0.4478  # bench_implicit.py / bench_tune.py, EASE lambda 300, same test split
#: The grid at nu = 0.5 (the default regularization type's scale; lambda 0.6 is the default).
LAMBDAS = (0.075, 0.15, 0.3, 0.6, 1.2, 2.4)
W0S = (0.03, 0.1, 0.3, 1.0, 3.0)
FACTORS = (32, 64, 128, 256)
LEVERS = (("regularization", LAMBDAS), ("unobserved_weight", W0S), ("factors", FACTORS))


def ndcg(model, holdout) -> float:
    return float(evaluate_model(model, holdout, k=10, beyond_accuracy=False)["ndcg@10"])


def as_good(scores: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """(best row, mean paired shortfall per row, its standard error) of a (settings, seeds)
    score array; a row is as good as the best when its shortfall < 2 standard errors."""
    best = int(np.argmax(scores.mean(axis=1)))
    gap = scores[best] - scores
    mean = gap.mean(axis=1)
    se = gap.std(axis=1, ddof=1) / math.sqrt(scores.shape[1])
    return best, mean, se


def widened(values, grid) -> tuple[float, float]:
    """The span of ``values`` widened by half a (log) grid step of ``grid`` on each side."""
    lo, hi = min(values), max(values)
    i, j = grid.index(lo), grid.index(hi)
    step_lo = grid[1] / grid[0] if i == 0 else grid[i] / grid[i - 1]
    step_hi = grid[-1] / grid[-2] if j == len(grid) - 1 else grid[j + 1] / grid[j]
    return lo / math.sqrt(step_lo), hi * math.sqrt(step_hi)


def score_grid(settings, fits, quiet, label) -> np.ndarray:
    """(settings, folds) validation NDCG@10: each setting fitted on each (train, validation)."""
    scores = np.zeros((len(settings), len(fits)))
    for i, params in enumerate(settings):
        scores[i] = [ndcg(WALS(**params).fit(train), validation) for train, validation in fits]
        if not quiet:
            print(f"{label} [{i + 1}/{len(settings)}] {_name(params)} val {scores[i].mean():.4f}",
                  flush=True)
    return scores


def choose(settings, scores, title, rows=25) -> tuple[int, list[int], dict]:
    """Print the as-good table and ranges; (best row, as-good rows, {lever: (location, low,
    high)})."""
    best, gap, se = as_good(scores)
    good = [i for i in range(len(settings)) if gap[i] < 2 * se[i] or i == best]
    order = sorted(range(len(settings)), key=lambda i: -scores[i].mean())
    print(f"\n{title}")
    print(f"{'setting':34s} {'val mean':>8s} {'shortfall':>9s} {'2 SE':>7s} as good")
    for i in order[:rows]:
        print(f"{_name(settings[i]):34s} {scores[i].mean():8.4f} {gap[i]:9.4f} "
              f"{2 * se[i]:7.4f} {'yes' if i in good else ''}")
    print(f"{len(good)} settings as good as the best ({_name(settings[best])}, val "
          f"{scores[best].mean():.4f})")
    ranges = {}
    for name, grid in LEVERS:
        values = sorted({settings[i][name] for i in good})
        lo, hi = widened(values, grid)
        where = math.exp(np.mean([math.log(settings[i][name]) for i in good]))
        ranges[name] = (where, lo, hi)
        best_per = {v: max(scores[i].mean() for i in range(len(settings))
                           if settings[i][name] == v) for v in grid}
        print(f"{name}: as-good values {values} (geometric mean {where:.3g}) -> range "
              f"{lo:.3g}-{hi:.3g}; best val mean per value: "
              + ", ".join(f"{v:g}: {s:.4f}" for v, s in best_per.items()))
    return best, good, ranges


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4],
                        help="seeds of the validation splits (at least 2)")
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--trend", action="store_true",
                        help="also fit on 80%% of each inner training part (see the docstring)")
    parser.add_argument("--no-test", action="store_true", help="skip the test check")
    parser.add_argument("--quiet", action="store_true", help="print the tables only")
    args = parser.parse_args()
    if len(args.seeds) < 2:
        sys.exit("--seeds needs at least 2 validation splits (the choice uses their spread)")
    root = os.environ.get("RECSYS_DATA_DIR")
    if not root:
        sys.exit("set RECSYS_DATA_DIR to the folder holding ml-100k/")
    dataset = load_movielens_100k(Path(root) / "ml-100k")
    outer = holdout_split(dataset, test_fraction=0.2, seed=0)
    # Only the training part is handed to the choice; the test part is kept for the check.
    train, test = outer.train, outer.test
    inners = [holdout_split(train, test_fraction=0.2, seed=s) for s in args.seeds]
    WALS(iterations=1).fit(train)  # numba compiles outside the timings

    settings = [dict(regularization=lam, unobserved_weight=w0, factors=d,
                     iterations=args.iterations)
                for lam, w0, d in itertools.product(LAMBDAS, W0S, FACTORS)]
    start = time.perf_counter()
    scores = score_grid(settings, [(inner.train, inner.test) for inner in inners], args.quiet,
                        "64%")
    total = time.perf_counter() - start
    best, good, ranges = choose(
        settings, scores, f"ml-100k, nu 0.5, {len(settings)} settings, iterations "
        f"{args.iterations}; validation splits of the training part, seeds {args.seeds}; "
        f"{total:.0f} s (test not used)")

    if args.trend:
        smaller = [(holdout_split(inner.train, test_fraction=0.2, seed=1000 + s).train,
                    inner.test) for s, inner in zip(args.seeds, inners)]
        small_scores = score_grid(settings, smaller, args.quiet, "51%")
        _, _, small_ranges = choose(
            settings, small_scores, "the same grid fitted on 80% of each inner training part "
            "(51% of the data), same validation parts (test not used)", rows=10)
        print("\ndata-size trend: as-good location at 51% -> 64% of the data (factor r); refit "
              "ranges = 64% ranges x r")
        for name, _ in LEVERS:
            r = ranges[name][0] / small_ranges[name][0]
            print(f"{name}: {small_ranges[name][0]:.3g} -> {ranges[name][0]:.3g} (r {r:.2f}); "
                  f"64% range {ranges[name][1]:.3g}-{ranges[name][2]:.3g} -> refit range "
                  f"{ranges[name][1] * r:.3g}-{ranges[name][2] * r:.3g}")

    if args.no_test:
        return
    order = sorted(range(len(settings)), key=lambda i: -scores[i].mean())
    print(f"\nCHECK ONLY (not used for the choice above): refit on the whole training part, "
          f"test NDCG@10 (EASE {EASE_TEST})")
    checked = [best] + [i for i in order if i in good and i != best][:11]
    for i in checked:
        model = WALS(**settings[i]).fit(train)
        print(f"{_name(settings[i]):34s} val {scores[i].mean():.4f} test {ndcg(model, test):.4f}"
              + ("  <- best on validation" if i == best else ""), flush=True)


def _name(p) -> str:
    return f"lambda {p['regularization']:g} w0 {p['unobserved_weight']:g} d {p['factors']}"


if __name__ == "__main__":
    main()
