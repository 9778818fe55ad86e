"""How long evaluating every MovieLens 100K user with every metric takes, scoring kept apart.

Usage::

    RECSYS_DATA_DIR=../shared/data python benchmarks/bench_metrics.py [--repeats 7] [--k 10]

Two scorers, most-popular (one embedding dimension holding log popularity) and random
32-dimensional embeddings, on two splits: the predefined u1 fold (459 users have test ratings) and
a 20% per-user holdout (all 943 users have). For each, the table gives the median over
repeats of the time to score and rank the full catalogue for every test user
(``model.recommend``), the time of the top-k accuracy metrics alone, and the time of every metric
including the beyond-accuracy ones (``evaluate_recommendations``), the end-to-end
``evaluate_model`` call (scoring + every metric), and the metric values.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys_core.data import load_movielens_100k  # noqa: E402
from recsys_core.evaluation.metrics import (evaluate_model, evaluate_recommendations,  # noqa: E402
                                            ranking_metrics)
from recsys_core.evaluation.split import holdout_split, predefined_split  # noqa: E402
from recsys_core.models import PrecomputedEmbeddings  # noqa: E402


def _median_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args(argv)
    data_dir = os.environ.get("RECSYS_DATA_DIR")
    if not data_dir or not (Path(data_dir) / "ml-100k").is_dir():
        print("set RECSYS_DATA_DIR to the folder holding ml-100k/", file=sys.stderr)
        return 2
    data = load_movielens_100k(Path(data_dir) / "ml-100k")
    k = args.k
    header = (f"{'split':<12} {'scorer':<13} {'users':>5} {'recommend (s)':>13} "
              f"{'top-k metrics (s)':>17} {'all metrics (s)':>15} {'evaluate_model (s)':>18}  "
              "metric values")
    print(f"MovieLens 100K, {data.n_items} items, k={k}, median of {args.repeats} runs\n")
    print(header)
    print("-" * len(header))
    for split in (predefined_split(data, "u1"), holdout_split(data, 0.2, seed=0)):
        train, test = split.train, split.test
        rng = np.random.default_rng(0)
        popularity = train.item_popularity
        scorers = {
            "most popular": PrecomputedEmbeddings(
                item_embeddings=np.log1p(popularity)[:, None],
                user_embeddings=np.ones((data.n_users, 1))),
            "random d=32": PrecomputedEmbeddings(
                item_embeddings=rng.normal(size=(data.n_items, 32)),
                user_embeddings=rng.normal(size=(data.n_users, 32))),
        }
        users = np.flatnonzero(test.user_activity > 0)
        relevant = test.ratings[users]
        long_tail = popularity < np.quantile(popularity, 0.8)
        for name, model in scorers.items():
            model.fit(train)
            t_rec, (recommended, _) = _median_time(lambda: model.recommend(users, k), args.repeats)
            t_rank, _ = _median_time(lambda: ranking_metrics(recommended, relevant, k), args.repeats)
            t_all, values = _median_time(lambda: evaluate_recommendations(
                recommended, relevant, k, item_genres=data.item_genres, item_popularity=popularity,
                n_users=train.n_users, group_mask=long_tail,
                item_embeddings=model.item_embeddings_), args.repeats)
            t_total, _ = _median_time(lambda: evaluate_model(
                model, test, k, item_popularity=popularity, group_mask=long_tail), args.repeats)
            shown = ", ".join(f"{key}={value:.4f}" for key, value in values.items())
            print(f"{split.params['method']:<12} {name:<13} {len(users):>5} {t_rec:>13.4f} "
                  f"{t_rank:>17.4f} {t_all:>15.4f} {t_total:>18.4f}  {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
