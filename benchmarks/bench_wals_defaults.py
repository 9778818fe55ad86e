"""WALS defaults that hold beyond MovieLens 100K: candidate settings on validation splits only.

Protocol (as benchmarks/bench_implicit.py): per-user 80/20 holdout (holdout_split, seed s), then
a validation split carved from its training part (seed s + 100); every candidate is fitted on the
inner training part and scored on the validation part (NDCG@10 and Recall@20 over the full
catalogue, training items excluded). The test parts are never used. Datasets: ml-100k and the
synthetic demo catalogue (recsys_core.data.demo.make_demo_dataset). Candidates follow Rendle et
al. 2021 ("Revisiting the Performance of iALS"): frequency-scaled regularization
lambda (n_u + w0 n_items)^nu, larger embeddings with it.

    RECSYS_DATA_DIR=../shared/data python benchmarks/bench_wals_defaults.py [--seeds 0 1 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys_core.data import load_movielens_100k  # noqa: E402
from recsys_core.data.demo import make_demo_dataset  # noqa: E402
from recsys_core.evaluation.metrics import ndcg_at_k, recall_at_k  # noqa: E402
from recsys_core.evaluation.split import holdout_split  # noqa: E402
from recsys_core.models import WALS  # noqa: E402

OLD = dict(factors=64, regularization=8.0, unobserved_weight=0.3, regularization_type="l2")
CANDIDATES = {"former defaults (l2, lambda 8, w0 0.3)": OLD, "defaults": {}}
for lam in (4.0, 16.0):
    for w0 in (0.1, 0.3):
        CANDIDATES[f"l2 lambda={lam} w0={w0}"] = dict(regularization=lam, unobserved_weight=w0,
                                                      regularization_type="l2")
for nu, lams in ((1.0, (0.02, 0.04, 0.08)), (0.5, (0.3, 0.6, 1.2))):
    for lam in lams:
        for w0 in (0.1, 0.2, 0.3):
            CANDIDATES[f"freq nu={nu} lambda={lam} w0={w0}"] = dict(
                regularization=lam, unobserved_weight=w0, regularization_type="frequency",
                regularization_exponent=nu)
for nu, lam, w0 in ((0.5, 0.45, 0.1), (0.5, 0.8, 0.1), (0.5, 0.6, 0.05), (0.75, 0.15, 0.1),
                    (0.75, 0.2, 0.1), (0.75, 0.1, 0.1)):
    CANDIDATES.setdefault(f"freq nu={nu} lambda={lam} w0={w0}", dict(
        regularization=lam, unobserved_weight=w0, regularization_type="frequency",
        regularization_exponent=nu))
for d in (32, 128):
    CANDIDATES[f"defaults d={d}"] = dict(factors=d)
# Where tuned WALS beats EASE on ml-100k test (bench_wals_study.py, bench_tune.py): also defaults?
for lam, w0, d in ((0.3, 0.3, 64), (0.4, 0.25, 64), (0.4, 0.25, 128), (0.4, 0.3, 64)):
    CANDIDATES[f"freq nu=0.5 lambda={lam} w0={w0} d={d}"] = dict(
        regularization=lam, unobserved_weight=w0, factors=d)


def scores(model, validation):
    users = np.flatnonzero(np.diff(validation.indptr) > 0)
    rec = model.recommend(users, 20)[0]
    relevant = validation[users]
    return ndcg_at_k(rec[:, :10], relevant, 10), recall_at_k(rec, relevant, 20)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="*", default=None, help="candidate names to run")
    args = parser.parse_args()
    names = args.only or list(CANDIDATES)
    root = os.environ.get("RECSYS_DATA_DIR")
    if not root:
        sys.exit("set RECSYS_DATA_DIR to the folder holding ml-100k/")
    datasets = {"ml-100k": load_movielens_100k(Path(root) / "ml-100k"),
                "demo-small": make_demo_dataset(seed=0, n_users=400, n_items=300), "demo": make_demo_dataset(seed=0)}
    results = {}
    for data_name, dataset in datasets.items():
        for seed in args.seeds:
            outer = holdout_split(dataset, test_fraction=0.2, seed=seed)
            inner = holdout_split(outer.train, test_fraction=0.2, seed=seed + 100)
            for name in names:
                start = time.perf_counter()
                model = WALS(**CANDIDATES[name]).fit(inner.train)
                seconds = time.perf_counter() - start
                ndcg, recall = scores(model, inner.test.ratings)
                results.setdefault((data_name, name), []).append((ndcg, recall, seconds))
    print(f"validation splits (seeds {args.seeds}; test parts unused), mean NDCG@10 over seeds; "
          "worst = the lowest share of the best setting's NDCG@10 over the datasets")
    best = {data: max(np.mean(results[(data, n)], axis=0)[0] for n in names) for data in datasets}
    print(f"{'candidate':42s} " + " ".join(f"{d:>10s}" for d in datasets) + f" {'worst':>6s}")
    for name in names:
        ndcg = [np.mean(results[(data, name)], axis=0)[0] for data in datasets]
        worst = min(v / best[data] for v, data in zip(ndcg, datasets))
        print(f"{name:42s} " + " ".join(f"{v:10.4f}" for v in ndcg) + f" {worst:6.1%}",
              flush=True)


if __name__ == "__main__":
    main()
