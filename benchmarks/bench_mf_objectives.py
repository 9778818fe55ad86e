"""MatrixFactorization's objectives with its defaults: top-N quality on MovieLens 100K and the demo.

Per-user 80/20 holdout (recsys_core.evaluation.split.holdout_split, seed 0, the app's default
split); NDCG@10 and Recall@10 over the full catalogue with training items excluded
(recsys_core.evaluation.metrics.evaluate_model), RMSE on the held-out ratings, fit seconds. Each
objective runs with every other hyperparameter at its default, then with biases switched on or off
against ``use_bias="auto"`` (which learns them for "observed" only), so the table shows both
halves of the default's choice. With ``--validation`` the unobserved weight is scanned on a
validation split carved from the training part (seed 1) instead, never on test.

    RECSYS_DATA_DIR=../shared/data python benchmarks/bench_mf_objectives.py [--validation]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys_core.data import load_movielens_100k  # noqa: E402
from recsys_core.data.demo import make_demo_dataset  # noqa: E402
from recsys_core.errors import HyperparameterError  # noqa: E402
from recsys_core.evaluation.metrics import evaluate_model  # noqa: E402
from recsys_core.evaluation.split import holdout_split  # noqa: E402
from recsys_core.models import MatrixFactorization  # noqa: E402

VARIANTS = [("observed", {}), ("observed", {"use_bias": False}),
            ("gravity", {}), ("gravity", {"use_bias": True}),
            ("weighted", {}), ("weighted", {"use_bias": True})]
WEIGHTS = [0.5, 1.0, 1.5, 2.0]


def datasets():
    root = os.environ.get("RECSYS_DATA_DIR")
    if root and (Path(root) / "ml-100k" / "u.data").is_file():
        yield "ml-100k", load_movielens_100k(Path(root) / "ml-100k")
    else:
        print("(ml-100k skipped: set RECSYS_DATA_DIR)")
    yield "demo", make_demo_dataset(seed=0)


def run(train, test, **params) -> str:
    start = time.perf_counter()
    try:
        model = MatrixFactorization(**params).fit(train)
    except HyperparameterError as exc:
        return f"failed: {exc}"
    seconds = time.perf_counter() - start
    m = evaluate_model(model, test, k=10, beyond_accuracy=False)
    return (f"{m['ndcg@10']:8.4f} {m['recall@10']:9.4f} {m.get('rmse', float('nan')):7.3f} "
            f"{seconds:6.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validation", action="store_true",
                        help="scan unobserved_weight on a validation split of the training part")
    args = parser.parse_args()
    print(f"{'data':8} {'objective':9} {'settings':22} {'ndcg@10':>8} {'recall@10':>9} "
          f"{'rmse':>7} {'fit s':>6}")
    for name, dataset in datasets():
        split = holdout_split(dataset, 0.2, seed=0)
        if args.validation:
            inner = holdout_split(split.train, 0.2, seed=1)
            for weight in WEIGHTS:
                print(f"{name:8} {'weighted':9} {f'val, w0={weight}':22} "
                      + run(inner.train, inner.test, unobserved_weight=weight), flush=True)
            continue
        for objective, params in VARIANTS:
            settings = ", ".join(f"{k}={v}" for k, v in params.items()) or "defaults"
            print(f"{name:8} {objective:9} {settings:22} "
                  + run(split.train, split.test, objective=objective, **params), flush=True)


if __name__ == "__main__":
    main()
