"""WALS against implicit's ALS: top-N quality on MovieLens 100K, speed, fold-in, memory, cold users.

Quality: per-user 80/20 holdout of ml-100k (recsys_core.evaluation.split.holdout_split, seed 0).
Every model's hyperparameters are chosen on a validation split carved from the training part the
same way
(seed 1), never on test, with grids of similar size; the chosen model is refitted on the whole
training part and scored on test (Recall@20, NDCG@10 over the full catalogue, training items
excluded). Compared: WALS with its defaults (no tuning), WALS tuned, implicit ALS tuned (alpha and
regularization; binary input, as our WALS), EASE tuned, and popularity.

Cold users: 20% of the users keep only 0, 3 or 5 of their training interactions; plain WALS and
side-feature WALS (age bucket, gender, occupation, genres) are fitted on that reduced training
set and scored on those users' test items.

Speed: seconds per iteration at 64 factors with the same number of threads, on ml-100k and on a
synthetic 200k users x 50k items x 5M interactions matrix (power-law items); full default WALS fit
and single-user fold-in on ml-100k; peak RSS of a 5M-interaction fit, each in a fresh subprocess
(VmHWM, resource.getrusage elsewhere). Ratios are measured in this one run (the machine is
shared).

    RECSYS_DATA_DIR=../shared/data python benchmarks/bench_implicit.py [--threads 2]
        [--skip-synthetic] [--skip-quality] [--only-memory] [--synthetic-iterations 4]
        [--seeds 5]
"""
from __future__ import annotations

import os

# One BLAS thread: the solvers parallelise over rows themselves (implicit warns otherwise).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import itertools
import json  # noqa: E402
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys_core.data import load_movielens_100k  # noqa: E402
from recsys_core.evaluation.metrics import ndcg_at_k, recall_at_k  # noqa: E402
from recsys_core.evaluation.split import holdout_split  # noqa: E402
from recsys_core.models import EASE, WALS, Popularity  # noqa: E402
from recsys_core.retrieval.topk import top_k  # noqa: E402

FACTORS = 64
# Around WALS's defaults (frequency-scaled lambda (n + w0 n_other)^0.5: lambda 0.6, w0 0.1).
WALS_GRID = {"regularization": [0.15, 0.3, 0.6], "unobserved_weight": [0.05, 0.1, 0.2]}
IMPLICIT_GRID = {"alpha": [1.0, 3.0, 10.0, 30.0], "regularization": [3.0, 10.0, 30.0, 100.0]}
EASE_GRID = {"regularization": [100.0, 300.0, 1000.0]}


# ---------------------------------------------------------------------------- helpers
def binary(matrix: sp.csr_matrix) -> sp.csr_matrix:
    out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    out.data[:] = 1.0
    return out


def evaluate(recommended: np.ndarray, test: sp.csr_matrix, users: np.ndarray) -> dict:
    relevant = test[users]
    return {"recall@20": recall_at_k(recommended, relevant, 20),
            "ndcg@10": ndcg_at_k(recommended[:, :10], relevant, 10)}


def test_users(test: sp.csr_matrix) -> np.ndarray:
    return np.flatnonzero(np.diff(test.indptr) > 0)


class ImplicitALS:
    """implicit's ALS behind the two calls this benchmark needs."""

    def __init__(self, threads: int, **params):
        from implicit.cpu.als import AlternatingLeastSquares

        self.model = AlternatingLeastSquares(factors=FACTORS, random_state=0, num_threads=threads,
                                             calculate_training_loss=False, **params)

    def fit(self, train: sp.csr_matrix):
        self.train = binary(train)
        self.model.fit(self.train, show_progress=False)
        return self

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        ids, _ = self.model.recommend(users, self.train[users], N=k,
                                      filter_already_liked_items=True)
        return np.asarray(ids, dtype=np.int64)


def recommend_ours(model, users, k=20):
    return model.recommend(users, k)[0]


def tune(name, grid, make, train, validation, threads):
    """Best parameters on validation by Recall@20 (ties: NDCG@10), and the grid's log."""
    users = test_users(validation)
    best, log = None, []
    for values in itertools.product(*grid.values()):
        params = dict(zip(grid, values))
        model = make(params).fit(train)
        rec = model.recommend(users, 20) if isinstance(model, ImplicitALS) \
            else recommend_ours(model, users)
        scores = evaluate(rec, validation, users)
        log.append((params, scores))
        key = (scores["recall@20"], scores["ndcg@10"])
        if best is None or key > best[0]:
            best = (key, params)
    print(f"  tuned {name}: {best[1]} (validation recall@20 {best[0][0]:.4f}, "
          f"{len(log)} fits)", flush=True)
    return best[1], log


def table(title, header, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)), flush=True)


# ---------------------------------------------------------------------------- quality
def quality(dataset, threads):
    split = holdout_split(dataset, test_fraction=0.2, seed=0)
    inner = holdout_split(split.train, test_fraction=0.2, seed=1)
    train, test = split.train.ratings, split.test.ratings
    fit_train, validation = inner.train, inner.test.ratings
    users = test_users(test)

    wals_params, _ = tune("WALS", WALS_GRID, lambda p: WALS(**p), fit_train, validation, threads)
    implicit_params, _ = tune("implicit ALS", IMPLICIT_GRID,
                              lambda p: ImplicitALS(threads, iterations=15, **p),
                              fit_train.ratings, validation, threads)
    ease_params, _ = tune("EASE", EASE_GRID, lambda p: EASE(**p), fit_train, validation, threads)

    rows = []
    candidates = [
        ("WALS defaults (untuned)", lambda: WALS(), split.train),
        (f"WALS tuned {wals_params}", lambda: WALS(**wals_params), split.train),
        (f"implicit ALS tuned {implicit_params}",
         lambda: ImplicitALS(threads, iterations=15, **implicit_params), train),
        (f"EASE tuned {ease_params}", lambda: EASE(**ease_params), split.train),
        ("popularity", lambda: Popularity(), split.train),
    ]
    for name, make, data in candidates:
        start = time.perf_counter()
        model = make().fit(data)
        seconds = time.perf_counter() - start
        rec = model.recommend(users, 20) if isinstance(model, ImplicitALS) \
            else recommend_ours(model, users)
        scores = evaluate(rec, test, users)
        rows.append((name, f"{scores['recall@20']:.4f}", f"{scores['ndcg@10']:.4f}",
                     f"{seconds:.2f}"))
    table(f"ml-100k per-user 80/20 holdout (seed 0), {len(users)} test users; tuned on a "
          "validation split of train (seed 1)", ["model", "Recall@20", "NDCG@10", "fit s"], rows)
    return split


def quality_over_seeds(dataset, threads, seeds):
    """WALS vs implicit ALS over several outer holdouts, each tuned on its own validation split:
    one 80/20 split decides a 0.001 NDCG difference by chance, a mean over splits does not."""
    rows, per_model = [], {"WALS tuned": [], "implicit ALS tuned": []}
    for seed in seeds:
        split = holdout_split(dataset, test_fraction=0.2, seed=seed)
        inner = holdout_split(split.train, test_fraction=0.2, seed=seed + 100)
        users = test_users(split.test.ratings)
        wals_params, _ = tune("WALS", WALS_GRID, lambda p: WALS(**p), inner.train,
                              inner.test.ratings, threads)
        implicit_params, _ = tune("implicit ALS", IMPLICIT_GRID,
                                  lambda p: ImplicitALS(threads, iterations=15, **p),
                                  inner.train.ratings, inner.test.ratings, threads)
        for name, model in (("WALS tuned", WALS(**wals_params).fit(split.train)),
                            ("implicit ALS tuned", ImplicitALS(threads, iterations=15,
                                                               **implicit_params)
                             .fit(split.train.ratings))):
            rec = model.recommend(users, 20) if isinstance(model, ImplicitALS) \
                else recommend_ours(model, users)
            scores = evaluate(rec, split.test.ratings, users)
            per_model[name].append((scores["recall@20"], scores["ndcg@10"]))
            rows.append((seed, name, f"{scores['recall@20']:.4f}", f"{scores['ndcg@10']:.4f}"))
    for name, scores in per_model.items():
        recall, ndcg = np.mean(scores, axis=0)
        rows.append(("mean", name, f"{recall:.4f}", f"{ndcg:.4f}"))
    table(f"ml-100k per-user 80/20 holdouts, seeds {list(seeds)}, each tuned on its own "
          "validation split", ["seed", "model", "Recall@20", "NDCG@10"], rows)


# ---------------------------------------------------------------------------- cold users
def cold_users(dataset, split):
    rng = np.random.default_rng(7)
    train, test = split.train, split.test.ratings
    cold = np.sort(rng.choice(train.n_users, size=train.n_users // 5, replace=False))
    is_cold_user = np.zeros(train.n_users, dtype=bool)
    is_cold_user[cold] = True
    entry_user = np.repeat(np.arange(train.n_users), np.diff(train.ratings.indptr))
    # A random rank of each entry within its user's row; cold users keep their first `kept`.
    random_key = rng.random(train.n_ratings)
    order = np.lexsort((random_key, entry_user))
    rank = np.empty(train.n_ratings, dtype=np.int64)
    starts = train.ratings.indptr[:-1]
    rank[order] = np.arange(train.n_ratings) - np.repeat(starts, np.diff(train.ratings.indptr))
    users = cold[np.diff(test[cold].indptr) > 0]
    rows = []
    for kept in (0, 3, 5):
        reduced = train.select_entries(~is_cold_user[entry_user] | (rank < kept))
        for name, model in (("popularity", Popularity()),
                            ("WALS", WALS()),
                            ("WALS + side features", WALS(side_features=True))):
            model.fit(reduced)
            scores = evaluate(recommend_ours(model, users), test, users)
            rows.append((kept, name, f"{scores['recall@20']:.4f}", f"{scores['ndcg@10']:.4f}"))
    table(f"cold users: {len(users)} users (20%) keep 0/3/5 training interactions; others keep all",
          ["kept", "model", "Recall@20", "NDCG@10"], rows)


# ---------------------------------------------------------------------------- speed
def synthetic_matrix(n_users=200_000, n_items=50_000, nnz=5_000_000, seed=0) -> sp.csr_matrix:
    """Power-law item popularity, log-normal user activity, binary values, ~nnz entries."""
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.0, n_users)
    users = rng.choice(n_users, size=int(nnz * 1.03), p=activity / activity.sum())
    item_weight = 1.0 / np.arange(1, n_items + 1) ** 0.8
    items = rng.choice(n_items, size=users.size, p=item_weight / item_weight.sum())
    m = sp.csr_matrix((np.ones(users.size, np.float32), (users, items)), shape=(n_users, n_items))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def timed_fit(make, data, iterations, repeats) -> tuple[float, float, float]:
    """Best over ``repeats`` of (seconds per iteration, whole fit seconds, CPU seconds per
    iteration summed over threads).

    For WALS the per-iteration time is the median gap between consecutive ``history_`` entries
    (setup and the CG solver's final exact user sweep excluded, counted in the whole fit); for
    implicit it is the whole fit divided by the iterations (its setup is a matrix transpose).
    CPU time (whole fit / iterations, both libraries) is what to compare on a loaded machine,
    where wall-clock times depend on what else runs.
    """
    per_iteration, total, cpu = np.inf, np.inf, np.inf
    for _ in range(repeats):
        model = make(iterations)
        start, start_cpu = time.perf_counter(), time.process_time()
        model.fit(data)
        seconds = time.perf_counter() - start
        cpu = min(cpu, (time.process_time() - start_cpu) / iterations)
        total = min(total, seconds)
        if isinstance(model, WALS) and len(model.history_) > 1:
            gaps = np.diff([h["elapsed"] for h in model.history_])
            per_iteration = min(per_iteration, float(np.median(gaps)))
        else:
            per_iteration = min(per_iteration, seconds / iterations)
    return per_iteration, total, cpu


def speed(name, data, threads, iterations, repeats):
    import numba

    numba.set_num_threads(threads)
    # Warm up the compiled kernels once (numba caches them on disk, but loading still costs).
    WALS(factors=FACTORS, iterations=1, solver="cholesky").fit(data[:200])
    WALS(factors=FACTORS, iterations=1, solver="cg").fit(data[:200])
    runs = {
        "WALS cholesky": lambda it: WALS(factors=FACTORS, iterations=it, solver="cholesky"),
        "WALS cg (3 steps)": lambda it: WALS(factors=FACTORS, iterations=it, solver="cg"),
        "implicit ALS cg (3 steps)": lambda it: ImplicitALS(threads, iterations=it, use_cg=True),
        "implicit ALS cholesky": lambda it: ImplicitALS(threads, iterations=it, use_cg=False),
    }
    times = {k: timed_fit(make, data, iterations, repeats) for k, make in runs.items()}
    ref_wall, _, ref_cpu = times["implicit ALS cg (3 steps)"]
    exact_wall, _, exact_cpu = times["implicit ALS cholesky"]
    rows = [(k, f"{v:.4f}", f"{v / ref_wall:.2f}", f"{v / exact_wall:.2f}", f"{c:.4f}",
             f"{c / ref_cpu:.2f}", f"{c / exact_cpu:.2f}", f"{t:.2f}")
            for k, (v, t, c) in times.items()]
    table(f"{name}: {data.shape[0]} x {data.shape[1]}, {data.nnz} interactions, {FACTORS} factors, "
          f"{threads} threads, best of {repeats} x {iterations} iterations; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
          ["solver", "s/iteration", "vs implicit cg", "vs implicit chol", "CPU s/iteration",
           "CPU vs implicit cg", "CPU vs implicit chol", "whole fit s"], rows)


def ml100k_latency(dataset, threads):
    import numba

    numba.set_num_threads(threads)
    fits, cpu = [], []
    for _ in range(3):
        start, start_cpu = time.perf_counter(), time.process_time()
        model = WALS().fit(dataset)
        fits.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    start = time.perf_counter()
    WALS(solver="cholesky").fit(dataset)
    cholesky_fit = time.perf_counter() - start
    rng = np.random.default_rng(0)
    fold_times = []
    for user in rng.choice(dataset.n_users, 200, replace=False):
        row = dataset.ratings[user]
        start = time.perf_counter()
        model.fold_in(row.indices, row.data)
        fold_times.append(time.perf_counter() - start)
    items = np.asarray(dataset.ratings.indices[:20])
    start = time.perf_counter()
    for _ in range(50):
        vector = model.fold_in(items)
        top_k(model.score_embeddings(vector), 10)
    fold_and_rank = (time.perf_counter() - start) / 50
    fold_times = np.array(fold_times) * 1000
    table("ml-100k latency (full data, WALS defaults: 64 factors, 15 iterations, cg); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", ["what", "time"],
          [("full fit, best of 3", f"{min(fits):.3f} s"),
           ("full fit, CPU time summed over threads, best of 3", f"{min(cpu):.3f} s"),
           ("full fit with solver='cholesky'", f"{cholesky_fit:.3f} s"),
           ("fold-in of one user, median (200 users)", f"{np.median(fold_times):.3f} ms"),
           ("fold-in of one user, 95th percentile", f"{np.percentile(fold_times, 95):.3f} ms"),
           ("fold-in + top-10 over 1682 items", f"{fold_and_rank * 1000:.3f} ms")])


def peak_rss(threads, iterations):
    """Peak RSS of fits in fresh subprocesses that load the synthetic matrix from a file (so the
    generator's temporaries do not set the peak); "data only" loads it and stops."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "synthetic.npz"
        sp.save_npz(path, synthetic_matrix(), compressed=False)
        rows = []
        for which in ("data only", "WALS cg", "WALS cholesky", "implicit ALS cg"):
            out = subprocess.run([sys.executable, __file__, "--rss-child", which, "--rss-data",
                                  str(path), "--threads", str(threads),
                                  "--synthetic-iterations", str(iterations)],
                                 capture_output=True, text=True, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append((which, f"{result['peak_mb']:.0f}", f"{result['seconds']:.1f}"))
    table(f"peak RSS of a fit on the synthetic 5M-interaction matrix ({iterations} iterations, "
          "fresh subprocess each, matrix loaded from a file)",
          ["process", "peak RSS MB", "fit s"], rows)


def rss_child(which, path, threads, iterations):
    import numba

    numba.set_num_threads(threads)
    data = sp.load_npz(path).tocsr()
    start = time.perf_counter()
    if which == "WALS cg":
        WALS(factors=FACTORS, iterations=iterations, solver="cg").fit(data)
    elif which == "WALS cholesky":
        WALS(factors=FACTORS, iterations=iterations, solver="cholesky").fit(data)
    elif which == "implicit ALS cg":
        ImplicitALS(threads, iterations=iterations).fit(data)
    seconds = time.perf_counter() - start
    print(json.dumps({"peak_mb": peak_rss_kb() / 1024, "seconds": seconds}))


def peak_rss_kb() -> int:
    """This process's peak resident set size in KB.

    Linux keeps ``getrusage().ru_maxrss`` across ``exec``, so a child started from a large parent
    reports the parent's peak; the VmHWM line of /proc/self/status belongs to this program only.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--synthetic-iterations", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=5,
                        help="outer holdouts for the WALS vs implicit mean (0 skips it)")
    parser.add_argument("--only-memory", action="store_true",
                        help="only the peak-RSS measurements on the synthetic matrix")
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    parser.add_argument("--rss-data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child, args.rss_data, args.threads, args.synthetic_iterations)
        return
    if args.only_memory:
        peak_rss(args.threads, args.synthetic_iterations)
        return
    root = os.environ.get("RECSYS_DATA_DIR")
    if not root:
        sys.exit("set RECSYS_DATA_DIR to the folder holding ml-100k/")
    dataset = load_movielens_100k(Path(root) / "ml-100k")
    import numba

    numba.set_num_threads(args.threads)
    if not args.skip_quality:
        split = quality(dataset, args.threads)
        if args.seeds:
            quality_over_seeds(dataset, args.threads, range(args.seeds))
        cold_users(dataset, split)
    ml100k_latency(dataset, args.threads)
    speed("ml-100k", binary(dataset.ratings), args.threads, iterations=15, repeats=3)
    if not args.skip_synthetic:
        data = synthetic_matrix()
        speed("synthetic", data, args.threads, iterations=args.synthetic_iterations, repeats=1)
        del data
        peak_rss(args.threads, args.synthetic_iterations)


if __name__ == "__main__":
    main()
