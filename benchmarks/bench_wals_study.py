"""What tuned WALS reaches on MovieLens 100K, and whether its validation split finds it (issue 13).

Protocol (bench_tune.py's): per-user 80/20 holdout (seed 0); validation splits carved from its
training part (20%, seeds 0-2: a Sweep's seed draws its validation split). Every setting of a grid
over Rendle et al.'s levers (frequency-scaled regularization lambda (n + w0 n_other)^nu with nu
0.5 or 1, lambda, the unobserved weight w0, the dimension d) is fitted on each inner training part
and scored on its validation part, and fitted on the whole training part and scored on test (the
test scores are for this study only: they say where the best settings lie and whether validation
ranks settings the way test does; a sweep never sees them). NDCG@10 over the full catalogue,
training items excluded, as bench_implicit.py. A second table varies the iterations at the best
validation setting.

    RECSYS_DATA_DIR=../shared/data python benchmarks/bench_wals_study.py [--quick] [--quiet]
"""
from __future__ import annotations

import argparse
import itertools
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
#: lambda grid per nu: on the shifted scale, lambda (70 + w0 1682)^nu spans plain weights ~1-60.
LAMBDAS = {0.5: (0.15, 0.3, 0.6, 1.2, 2.4), 1.0: (0.0025, 0.005, 0.01, 0.02, 0.04)}
W0S = (0.03, 0.1, 0.3, 1.0)
FACTORS = (64, 128, 256)


def ndcg(model, holdout) -> float:
    return float(evaluate_model(model, holdout, k=10, beyond_accuracy=False)["ndcg@10"])


def spearman(a, b) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="d 64 and 128 only, 1 seed")
    parser.add_argument("--quiet", action="store_true", help="print the tables only")
    parser.add_argument("--iterations", type=int, default=15)
    args = parser.parse_args()
    root = os.environ.get("RECSYS_DATA_DIR")
    if not root:
        sys.exit("set RECSYS_DATA_DIR to the folder holding ml-100k/")
    dataset = load_movielens_100k(Path(root) / "ml-100k")
    outer = holdout_split(dataset, test_fraction=0.2, seed=0)
    seeds = (0,) if args.quick else (0, 1, 2)
    inners = [holdout_split(outer.train, test_fraction=0.2, seed=s) for s in seeds]
    factors = FACTORS[:2] if args.quick else FACTORS
    WALS(iterations=1).fit(outer.train)  # numba compiles outside the timings

    settings = [dict(regularization_exponent=nu, regularization=lam, unobserved_weight=w0,
                     factors=d, iterations=args.iterations)
                for nu in LAMBDAS for lam, w0, d in itertools.product(LAMBDAS[nu], W0S, factors)]
    rows = []
    start = time.perf_counter()
    for i, params in enumerate(settings):
        t0 = time.perf_counter()
        val = [ndcg(WALS(**params).fit(inner.train), inner.test) for inner in inners]
        test = ndcg(WALS(**params).fit(outer.train), outer.test)
        rows.append((params, float(np.mean(val)), val, test, time.perf_counter() - t0))
        if not args.quiet:
            print(f"[{i + 1}/{len(settings)}] {_name(params)} val {np.mean(val):.4f} "
                  f"test {test:.4f} ({rows[-1][-1]:.1f} s)", flush=True)
    total = time.perf_counter() - start

    rows.sort(key=lambda r: -r[1])
    print(f"\nml-100k: {len(settings)} settings, iterations {args.iterations}, validation seeds "
          f"{list(seeds)} (mean), test = refit on the whole training part; EASE test "
          f"{EASE_TEST}; {total:.0f} s")
    print(f"{'setting':44s} {'val':>7s} " + " ".join(f"{'val s' + str(s):>8s}" for s in seeds)
          + f" {'test':>7s} {'rank(test)':>10s}")
    test_rank = {id(r): k + 1 for k, r in enumerate(sorted(rows, key=lambda r: -r[3]))}
    for r in rows[:15]:
        print(f"{_name(r[0]):44s} {r[1]:7.4f} " + " ".join(f"{v:8.4f}" for v in r[2])
              + f" {r[3]:7.4f} {test_rank[id(r)]:10d}")
    print("best on test:")
    for r in sorted(rows, key=lambda r: -r[3])[:5]:
        print(f"{_name(r[0]):44s} {r[1]:7.4f} " + " ".join(f"{v:8.4f}" for v in r[2])
              + f" {r[3]:7.4f}")
    vals, tests = np.array([r[1] for r in rows]), np.array([r[3] for r in rows])
    print(f"Spearman(validation mean, test) over all settings: {spearman(vals, tests):.3f}; "
          f"over the top 20 by validation: {spearman(vals[:20], tests[:20]):.3f}")
    for s_idx, s in enumerate(seeds):
        v = np.array([r[2][s_idx] for r in rows])
        top = rows[int(np.argmax(v))]
        print(f"validation seed {s}: its best setting {_name(top[0])} -> test {top[3]:.4f}")
    for key, values in (("factors", factors), ("regularization_exponent", tuple(LAMBDAS))):
        best = {v: max((r for r in rows if r[0][key] == v), key=lambda r: r[1]) for v in values}
        print(f"best per {key}: " + "; ".join(f"{v}: val {b[1]:.4f} test {b[3]:.4f}"
                                              for v, b in best.items()))

    best = rows[0][0]
    print(f"\niterations at the best validation setting ({_name(best)})")
    print(f"{'iterations':>10s} {'val':>7s} {'test':>7s} {'fit s':>6s}")
    for it in (5, 10, 15, 30):
        params = {**best, "iterations": it}
        val = np.mean([ndcg(WALS(**params).fit(inner.train), inner.test) for inner in inners])
        t0 = time.perf_counter()
        model = WALS(**params).fit(outer.train)
        seconds = time.perf_counter() - t0
        print(f"{it:10d} {val:7.4f} {ndcg(model, outer.test):7.4f} {seconds:6.2f}", flush=True)


def _name(p) -> str:
    return (f"nu {p['regularization_exponent']:g} lambda {p['regularization']:g} "
            f"w0 {p['unobserved_weight']:g} d {p['factors']}")


if __name__ == "__main__":
    main()
