"""Spark MLlib's ALS against our WALS and implicit's ALS: fit time and NDCG@10 on one split.

Every model gets the same hyperparameters in Spark's terms -- rank 64, regParam 0.1, alpha 1,
15 iterations, confidence 1 + alpha r on the ratings -- on a per-user 80/20 holdout (seed 0):

- Spark ALS (implicitPrefs) in local[1] and local[2], through recsys_core.runs.spark.SparkWALS
  ("fit": ratings to Spark, ALS, factors back to the driver; "+start": plus the session's start,
  which launches the JVM for the first Spark row only: later sessions reuse it);
- our WALS with Spark's objective (recsys_core.runs.spark.equivalent_wals: count-scaled
  regularization, unobserved weight 1, exact Cholesky solves), numba threads = the machine's;
- implicit's ALS (CPU, 2 threads), given c = 1 + r as its "confidence" values (implicit uses
  c = alpha * value) and regularization 0.1 -- plain L2, NOT count-scaled, so the same number
  regularises far less there: its NDCG is not a like-for-like comparison of the objective.

NDCG@10 (full catalogue, training items excluded) on every ml-100k test user, and on a sample of
5,000 test users of the synthetic matrix (200k users x 50k items x 5M interactions, power-law
items, binary values; bench_implicit.synthetic_matrix).

    RECSYS_DATA_DIR=../shared/data python benchmarks/bench_spark.py [--quick] [--skip-synthetic]

``--quick`` runs the synthetic part with 3 iterations and local[2] only. Needs pyspark and Java
(requirements-spark.txt) and implicit (benchmarks/requirements.txt).
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # the solvers parallelise over rows

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_implicit import synthetic_matrix, table  # noqa: E402
from recsys_core.data import load_movielens_100k  # noqa: E402
from recsys_core.data.dataset import Dataset  # noqa: E402
from recsys_core.evaluation.metrics import evaluate_model  # noqa: E402
from recsys_core.evaluation.split import holdout_split  # noqa: E402
from recsys_core.models.precomputed import PrecomputedEmbeddings  # noqa: E402
from recsys_core.runs import spark as spark_engine  # noqa: E402

PARAMS = {"factors": 64, "iterations": 15, "regularization": 0.1, "alpha": 1.0}


def ndcg(model, split, users) -> float:
    return evaluate_model(model, split.test, k=10, users=users, beyond_accuracy=False)["ndcg@10"]


def sample_users(split, n, seed=0):
    return spark_engine.sample_users(split.test.ratings, n, seed)


def run_spark(master, split, params, users):
    start = time.perf_counter()
    spark = spark_engine.spark_session(master, config={"spark.driver.memory": "6g"})
    started = time.perf_counter() - start
    trainer = spark_engine.SparkWALS(**params, spark=spark).fit(split.train)
    fit = trainer.engine_["fit_seconds"]
    score = ndcg(trainer.model_, split, users)
    spark.stop()
    return [f"Spark ALS {master}", f"{fit:.1f}", f"{fit + started:.1f}", f"{score:.4f}"]


def run_ours(split, params, users):
    model = spark_engine.equivalent_wals(**params)
    start = time.perf_counter()
    model.fit(split.train)
    fit = time.perf_counter() - start
    return ["our WALS (Spark's objective)", f"{fit:.1f}", "-", f"{ndcg(model, split, users):.4f}"]


def run_implicit(split, params, users, threads=2):
    from implicit.cpu.als import AlternatingLeastSquares

    train = sp.csr_matrix(split.train.ratings, dtype=np.float32, copy=True)
    train.data = 1.0 + params["alpha"] * train.data  # implicit's confidence is alpha * value
    als = AlternatingLeastSquares(factors=params["factors"],
                                  regularization=params["regularization"], alpha=1.0, iterations=params["iterations"], random_state=0,
                                  num_threads=threads, calculate_training_loss=False)
    start = time.perf_counter()
    als.fit(train, show_progress=False)
    fit = time.perf_counter() - start
    model = PrecomputedEmbeddings(als.user_factors, als.item_factors).fit(split.train)
    return ["implicit ALS (2 threads; plain L2)", f"{fit:.1f}", "-",
            f"{ndcg(model, split, users):.4f}"]


def bench(name, split, params, masters, users):
    print(f"\n{name}: {split.train.n_ratings} train / {split.test.n_ratings} test ratings, "
          f"{len(users)} test users scored; {params}", flush=True)
    rows = []
    for master in masters:
        rows.append(run_spark(master, split, params, users))
        print("  ", rows[-1], flush=True)
    for run in (run_ours, run_implicit):
        rows.append(run(split, params, users))
        print("  ", rows[-1], flush=True)
    table(f"{name} (fit seconds; the machine is shared)", ["model", "fit s", "+start s", "NDCG@10"],
          rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="synthetic part: 3 iterations, local[2] only")
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args(argv)
    reason = spark_engine.spark_unavailable_reason()
    if reason:
        sys.exit(reason)
    data_dir = Path(os.environ.get("RECSYS_DATA_DIR", ROOT / "data")) / "ml-100k"
    dataset = load_movielens_100k(data_dir)
    split = holdout_split(dataset, test_fraction=0.2, seed=0)
    bench("MovieLens 100K", split, PARAMS, ("local[1]", "local[2]"),
          np.flatnonzero(np.diff(split.test.ratings.indptr)))
    if not args.skip_synthetic:
        coo = synthetic_matrix().tocoo()
        synthetic = Dataset.from_interactions(coo.row, coo.col, name="synthetic-5M")
        split = holdout_split(synthetic, test_fraction=0.2, seed=0)
        params = dict(PARAMS, iterations=3) if args.quick else PARAMS
        masters = ("local[2]",) if args.quick else ("local[1]", "local[2]")
        bench("synthetic 200k x 50k x 5M", split, params, masters, sample_users(split, 5000))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
