"""Sweeps on MovieLens 100K (issue 13): tuned WALS vs EASE on test over several search seeds, the
time of 30 WALS trials, and TPE vs random at the same budget.

Split: bench_implicit.py's per-user 80/20 holdout (seed 0, where EASE scores 0.4478 test NDCG@10;
neither is changed here). Each sweep scores a trial as the mean over K validation folds carved
from the training part (20% of each user's training ratings; Sweep(folds=K), fold seeds from the
search seed, which also seeds the sampler), so the search never sees the test ratings. WALS
searches its default space (``Sweep(dimensions=None)``: what ``python -m recsys_core tune --model
wals`` and the Tune page search, WALS.default_search with WALS.tuning_range), nothing fixed. The
best setting is refitted on the whole training part (Sweep.refit_best, saved as a run), and that
saved run is loaded and scored once on test (NDCG@10 and Recall@20 over the full catalogue,
training items excluded, as bench_implicit.py). EASE is tuned the same way, per search seed, on
the same K folds, by a grid sweep over bench_implicit's grid. One table per K (``--folds``), then
a summary: per-seed test NDCG@10, the mean, how many seeds reach EASE's 0.4478, and the time of
a 30-trial WALS sweep (target < 60 s).

Choosing the default K without test: each sweep's best setting is also fitted on three *fresh*
validation folds of the training part (seeds 10000-10002, used by no search) and scored there
("fresh val"). The tune command's default K (DEFAULT_FOLDS) is the K with the best mean fresh
validation NDCG@10 over the search seeds among those whose slowest 30-trial sweep used under
50 CPU seconds (every thread counted: on an otherwise idle 2-core machine the wall time stays
below it, and it grows less with other people's load than the wall time; 50, not 60, because the
same K = 3 sweeps used 57.6 s in one run and 63.2 s in another); test plays no part in it.

TPE vs random (``--compare-seeds``): the best validation NDCG@10 after 10, 20 and 30 trials, per
seed, trials not saved.

    RECSYS_DATA_DIR=../shared/data python benchmarks/bench_tune.py [--trials 30] \
        [--search-seeds 0 1 2 3 4] [--folds 1 2 3] [--compare-seeds 3] [--quiet]
    RECSYS_DATA_DIR=../shared/data python benchmarks/bench_tune.py --holdouts 0 1 2 3 4 --quiet

``--holdouts``: the same comparison over several per-user holdouts (different test users'
ratings), EASE tuned the same way on each, with the paired per-user gap and its standard error
pooled over them: the test split's own noise (SE ~0.003 on one) shrinks with each holdout.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys_core.data import load_movielens_100k  # noqa: E402
from recsys_core.evaluation.metrics import evaluate_model, ranking_metrics_per_user  # noqa: E402
from recsys_core.evaluation.split import holdout_split  # noqa: E402
from recsys_core.models import EASE, WALS  # noqa: E402
from recsys_core.runs.store import RunStore  # noqa: E402
from recsys_core.tuning import DEFAULT_FOLDS, Dimension, Sweep, default_dimensions  # noqa: E402
from bench_implicit import table  # noqa: E402  (this folder is on the path when run as a script)

EASE_TEST = 0.4478  # bench_implicit.py, EASE lambda 300 on this test split

EASE_GRID = (100.0, 300.0, 1000.0)
QUIET = False


def test_scores(model, split):
    m20 = evaluate_model(model, split.test, k=20, beyond_accuracy=False)
    m10 = evaluate_model(model, split.test, k=10, beyond_accuracy=False)
    return m10["ndcg@10"], m20["recall@20"]


CPU_LIMIT = 50  # CPU seconds of a 30-trial sweep a default K may take (see the docstring)
FRESH_SEEDS = (10_000, 10_001, 10_002)  # validation folds no search uses (seeds 0-4's folds:
#                                          the seed itself and SeedSequence draws from it)


def paired_gap(model, reference, split) -> tuple[float, float]:
    """Mean per-user test NDCG@10 of ``model`` minus ``reference``'s, and its standard error
    (same users, same split): how far a difference is from the test split's own noise."""
    test = split.test.ratings
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    per_user = []
    for m in (model, reference):
        recommended, _ = m.recommend(users, 10, exclude_seen=True)
        per_user.append(ranking_metrics_per_user(recommended, test[users], 10)["ndcg@10"])
    gap = per_user[0] - per_user[1]
    return float(np.mean(gap)), float(np.std(gap, ddof=1) / np.sqrt(len(gap)))


def fresh_validation(params, fresh) -> float:
    """Mean validation NDCG@10 of WALS(params) over the fresh folds (training data only)."""
    return float(np.mean([evaluate_model(WALS(**params).fit(f.train), f.test, k=10,
                                         beyond_accuracy=False)["ndcg@10"] for f in fresh]))


def tune_both(dataset, split, trials, seed, k, store, name):
    """What ``tune`` does for WALS and for EASE on one split, on the same K validation folds:
    a ``trials``-trial TPE sweep of WALS's default space and EASE's grid sweep (search seed
    ``seed``), each best setting refitted on the training part (WALS through Sweep.refit_best
    and loaded back from its saved run). Returns (WALS sweep, WALS model, EASE sweep, EASE
    model, seconds and CPU seconds of the WALS search, seconds of its refit and save)."""
    sweep = Sweep(store, f"{name}-wals", "wals", None, strategy="tpe", n_trials=trials,
                  seed=seed, folds=k)
    start, cpu = time.perf_counter(), time.process_time()
    sweep.run(dataset, split)
    search, search_cpu = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    info, _ = sweep.refit_best(dataset, split)
    refit = time.perf_counter() - start
    wals = store.load(info.name).model  # the saved refit is what test scores
    ease_sweep = Sweep(store, f"{name}-ease", "ease",
                       [Dimension("regularization", choices=EASE_GRID)], strategy="grid",
                       n_trials=len(EASE_GRID), seed=seed, folds=k, save_trials=False)
    ease_sweep.run(dataset, split)
    ease = EASE(**ease_sweep.best_params()).fit(split.train)
    return sweep, wals, ease_sweep, ease, search, search_cpu, refit


def tuned_vs_ease(dataset, split, trials, seeds, folds, store):
    """Per K in ``folds``: a WALS sweep and an EASE grid sweep per search seed, each on the
    same K validation folds, refitted and scored once on test. Returns the summary rows."""
    summary, max_cpu = [], []
    ease_reference = EASE(regularization=300.0).fit(split.train)  # bench_implicit's 0.4478
    fresh = [holdout_split(split.train, 0.2, s) for s in FRESH_SEEDS]
    for k in folds:
        rows, timing, wals_tests, ease_tests, fresh_vals = [], [], [], [], []
        for seed in seeds:
            sweep, wals, ease_sweep, ease, search, search_cpu, refit = tune_both(
                dataset, split, trials, seed, k, store, f"bench-k{k}-{seed}")
            ndcg, recall = test_scores(wals, split)
            wals_tests.append(ndcg)
            fresh_vals.append(fresh_validation(sweep.best_params(), fresh))
            gap, gap_se = paired_gap(wals, ease_reference, split)
            ease_ndcg, _ = test_scores(ease, split)
            ease_tests.append(ease_ndcg)
            rows.append((seed, _fmt(sweep.best_params(), sweep.dimensions),
                         f"{sweep.best().value:.4f}", f"{fresh_vals[-1]:.4f}", f"{ndcg:.4f}",
                         f"{recall:.4f}",
                         "yes" if ndcg >= EASE_TEST else "no", f"{gap:+.4f} ± {gap_se:.4f}",
                         f"{ease_sweep.best_params()['regularization']:g}",
                         f"{ease_sweep.best().value:.4f}", f"{ease_ndcg:.4f}"))
            if not QUIET:
                print(f"K={k} seed {seed}: {rows[-1][1]}: test NDCG@10 {ndcg:.4f}, "
                      f"search {search:.1f} s", flush=True)
            n_saved = len([i for i in store.list() if (i.sweep or {}).get("name") == sweep.name])
            timing.append((seed, len(sweep.trials), n_saved, f"{search:.1f}",
                           f"{search_cpu:.1f}", f"{search / len(sweep.trials):.2f}",
                           f"{refit:.1f}", "met" if search < 60 else "NOT met"))
        hits = sum(v >= EASE_TEST for v in wals_tests)
        rows.append(("mean", "", "", f"{np.mean(fresh_vals):.4f}", f"{np.mean(wals_tests):.4f}",
                     "",
                     f"{hits} of {len(seeds)}", "", "", "", f"{np.mean(ease_tests):.4f}"))
        dims = default_dimensions(WALS)
        table(f"K = {k} validation fold(s): {trials} TPE trials on WALS's default space "
              f"({'; '.join(d.describe() for d in dims)}); EASE grid {list(EASE_GRID)} on the "
              "same folds; both refitted on the training part, test scored once",
              ["seed", "WALS best setting", "val NDCG@10", "fresh val", "test NDCG@10",
               "test R@20",
               f">= EASE {EASE_TEST}", "minus EASE 300 (± SE)", "EASE reg", "EASE val",
               "EASE test"], rows)
        table(f"K = {k}: time of each 30-trial WALS sweep (each trial saved as a run; CPU s "
              "counts every thread)",
              ["seed", "trials", "runs saved", "search s", "search CPU s", "s per trial",
               "refit + save s", "< 60 s"], timing)
        times = [float(t[3]) for t in timing]
        max_cpu.append(max(float(t[4]) for t in timing))
        summary.append((k, f"{np.mean(fresh_vals):.4f}",
                        " / ".join(f"{v:.4f}" for v in wals_tests),
                        f"{np.mean(wals_tests):.4f}", f"{min(wals_tests):.4f}",
                        f"{hits} of {len(seeds)}", f"{np.mean(ease_tests):.4f}",
                        f"{np.median(times):.1f}", f"{max(times):.1f}"))
    defaults = WALS().fit(split.train)
    print(f"\nWALS defaults ({_fmt(WALS().get_params(), default_dimensions(WALS))}): test "
          f"NDCG@10 {test_scores(defaults, split)[0]:.4f}")
    table(f"summary: tuned WALS test NDCG@10 per search seed {list(seeds)} (EASE reference "
          f"{EASE_TEST}, bench_implicit.py)",
          ["K", "fresh val (mean)", "test per seed", "test mean", "test min",
           f">= {EASE_TEST}", "EASE tuned test (mean)",
           "sweep s (median)", "sweep s (max)", "sweep CPU s (max)"],
          [(*row, f"{cpu:.1f}") for row, cpu in zip(summary, max_cpu)])
    allowed = [row for row, cpu in zip(summary, max_cpu) if cpu < CPU_LIMIT]
    if len(summary) > 1 and allowed:
        chosen = max(allowed, key=lambda row: float(row[1]))[0]
        print(f"default K by validation only (best fresh val among K whose sweeps used < "
              f"{CPU_LIMIT} CPU s): {chosen}; DEFAULT_FOLDS is {DEFAULT_FOLDS}")


def across_holdouts(dataset, trials, holdouts, k, store):
    """Tuned WALS against tuned EASE on several per-user 80/20 holdouts of ml-100k (seeds
    ``holdouts``; seed 0 is bench_implicit's split, the others were looked at by no choice of a
    range, a default or K). On each: a ``trials``-trial TPE sweep of WALS's default space
    (search seed = holdout seed) and EASE's grid sweep, both on the same K validation folds of
    the training part, both refitted on it and scored once on test; EASE 300 (bench_implicit's
    setting) as a fixed reference. The gap is per user, paired (same users, same split); over
    the holdouts, the mean of their gaps and its standard error."""
    rows, gaps, ses, wals_all, ease_all, fixed_all = [], [], [], [], [], []
    fixed_gaps, fixed_ses = [], []
    for seed in holdouts:
        split = holdout_split(dataset, test_fraction=0.2, seed=seed)
        sweep, wals, ease_sweep, ease, search, _, _ = tune_both(
            dataset, split, trials, seed, k, store, f"holdout-{seed}")
        fixed = EASE(regularization=300.0).fit(split.train)
        scores = [test_scores(m, split)[0] for m in (wals, ease, fixed)]
        gap, se = paired_gap(wals, ease, split)
        gaps.append(gap), ses.append(se)
        fixed_gap, fixed_se = paired_gap(wals, fixed, split)
        fixed_gaps.append(fixed_gap), fixed_ses.append(fixed_se)
        wals_all.append(scores[0]), ease_all.append(scores[1]), fixed_all.append(scores[2])
        rows.append((seed, _fmt(sweep.best_params(), sweep.dimensions), f"{search:.1f}",
                     f"{scores[0]:.4f}",
                     f"{ease_sweep.best_params()['regularization']:g}", f"{scores[1]:.4f}",
                     f"{scores[2]:.4f}", f"{gap:+.4f} ± {se:.4f}",
                     f"{fixed_gap:+.4f} ± {fixed_se:.4f}"))
        if not QUIET:
            print(f"holdout {seed}: WALS {scores[0]:.4f}, EASE {scores[1]:.4f}", flush=True)
    def pooled(values, errors):  # the mean of independent holdouts' gaps, and its SE
        return (f"{np.mean(values):+.4f} ± "
                f"{float(np.sqrt(np.sum(np.square(errors)))) / len(errors):.4f}")

    rows.append(("mean", "", "", f"{np.mean(wals_all):.4f}", "", f"{np.mean(ease_all):.4f}",
                 f"{np.mean(fixed_all):.4f}", pooled(gaps, ses), pooled(fixed_gaps, fixed_ses)))
    table(f"tuned WALS vs tuned EASE on {len(holdouts)} per-user holdouts of ml-100k: {trials} "
          f"TPE trials (WALS default space) and EASE grid {list(EASE_GRID)}, both on K = {k} "
          "validation folds of the training part, refitted on it, test scored once",
          ["holdout", "WALS best setting", "search s", "WALS test NDCG@10", "EASE reg",
           "EASE test", "EASE 300 test", "WALS minus EASE (± SE)", "WALS minus EASE 300"],
          rows)


def _fmt(params, dims):
    params = {**WALS().get_params(), **params}
    names = [d.name for d in dims] + ["iterations"]
    return ", ".join(f"{n}={params[n]:.3g}" if isinstance(params[n], float) else f"{n}={params[n]}"
                     for n in names)


def tpe_vs_random(dataset, split, trials, seeds, store):
    dims = None  # WALS's default search space
    checkpoints = [n for n in (10, 20, 30, trials) if n <= trials]
    checkpoints = sorted(set(checkpoints))
    rows, means = [], {}
    for strategy in ("random", "tpe"):
        for seed in seeds:
            sweep = Sweep(store, f"cmp-{strategy}-{seed}", "wals", dims, strategy=strategy,
                          n_trials=trials, seed=seed, save_trials=False)
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
    table("best validation NDCG@10 after N trials (WALS, default search space)",
          ["strategy", "seed", *(f"N={n}" for n in checkpoints), "s"], rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--search-seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4],
                        help="seeds of the tuned-WALS sweeps (validation folds and sampler)")
    parser.add_argument("--folds", type=int, nargs="+", default=[DEFAULT_FOLDS],
                        help=f"validation folds per trial, one table per value "
                             f"(default {DEFAULT_FOLDS}, the tune command's)")
    parser.add_argument("--compare-seeds", type=int, default=0,
                        help="seeds of TPE vs random (default 0: skipped)")
    parser.add_argument("--holdouts", type=int, nargs="*", default=[],
                        help="instead of the search seeds on holdout 0: tuned WALS vs tuned "
                             "EASE on these per-user holdouts (e.g. 0 1 2 3 4), K = the first "
                             "--folds value")
    parser.add_argument("--quiet", action="store_true", help="print the tables only")
    args = parser.parse_args()
    global QUIET
    QUIET = args.quiet
    root = os.environ.get("RECSYS_DATA_DIR")
    if not root:
        sys.exit("set RECSYS_DATA_DIR to the folder holding ml-100k/")
    dataset = load_movielens_100k(Path(root) / "ml-100k")
    split = holdout_split(dataset, test_fraction=0.2, seed=0)
    WALS(iterations=1).fit(split.train)  # numba compiles outside the timings
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(tmp)
        if args.holdouts:
            across_holdouts(dataset, args.trials, args.holdouts, args.folds[0], store)
            return
        tuned_vs_ease(dataset, split, args.trials, args.search_seeds, args.folds, store)
        if args.compare_seeds:
            tpe_vs_random(dataset, split, args.trials, range(args.compare_seeds), store)


if __name__ == "__main__":
    main()
