"""Explicit rating prediction on MovieLens 100K's five standard folds u1..u5, side by side.

Ours: MatrixFactorization with objective "observed" and its other defaults (biased MF with the
SVD++-style implicit-feedback term, SGD, iterate averaging; the default objective, "weighted",
ranks rather than predicts ratings), the same without the implicit-feedback term (plain biased MF), with
the gravity and with the weighted objectives, and the SVDModel baseline (zeros for unobserved entries, so not a
rating predictor: its RMSE is shown for reference, clipped to 1-5). Peers from Surprise
(``pip install -r benchmarks/requirements.txt``): SVD, SVD++ and BaselineOnly, all with Surprise's
defaults. Every model is fitted on uK.base and scored on uK.test (RMSE of predictions clipped to
1-5, as Surprise does); fit seconds are wall-clock per fold, measured in this one run, so compare
ratios (the machine is shared). Our numba kernels are compiled (or loaded from numba's cache) by
a warm-up fit before timing; that one-off cost is printed separately.

    RECSYS_DATA_DIR=../shared/data python benchmarks/bench_explicit.py [--folds u1 u2]
        [--skip-slow]
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
from recsys_core.evaluation.split import predefined_split  # noqa: E402
from recsys_core.models import MatrixFactorization, SVDModel  # noqa: E402

FOLDS = ("u1", "u2", "u3", "u4", "u5")


def _rmse(predicted, truth) -> float:
    return float(np.sqrt(np.mean((np.clip(predicted, 1.0, 5.0) - truth) ** 2)))


def ours(factory):
    """fit(train, test) -> (fit seconds, RMSE) for one of our models."""
    def run(train, test):
        start = time.perf_counter()
        model = factory().fit(train)
        seconds = time.perf_counter() - start
        entries = test.ratings.tocoo()
        return seconds, _rmse(model.predict(entries.row, entries.col), entries.data)
    return run


def surprise(name):
    """The same for a Surprise algorithm with its defaults (imported only when asked)."""
    import pandas as pd
    import surprise as sup

    algorithm = {"SVD": sup.SVD, "SVD++": sup.SVDpp, "BaselineOnly": sup.BaselineOnly}[name]

    def run(train, test):
        entries = train.ratings.tocoo()
        frame = pd.DataFrame({"user": entries.row, "item": entries.col, "rating": entries.data})
        trainset = sup.Dataset.load_from_df(frame, sup.Reader(rating_scale=(1, 5))
                                            ).build_full_trainset()
        kwargs = {"verbose": False} if name == "BaselineOnly" else {"random_state": 0}
        model = algorithm(**kwargs)
        start = time.perf_counter()
        model.fit(trainset)
        seconds = time.perf_counter() - start
        held = test.ratings.tocoo()
        predicted = np.array([model.predict(u, i, clip=True).est
                              for u, i in zip(held.row.tolist(), held.col.tolist())])
        return seconds, _rmse(predicted, held.data)
    return run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", nargs="+", default=list(FOLDS), choices=FOLDS)
    parser.add_argument("--skip-slow", action="store_true",
                        help="leave out SVD++ and our gravity/weighted objectives")
    args = parser.parse_args(argv)

    root = os.environ.get("RECSYS_DATA_DIR")
    if not root:
        parser.error("set RECSYS_DATA_DIR to the folder holding ml-100k/")
    dataset = load_movielens_100k(Path(root) / "ml-100k")

    models = {"MF (ours, observed)": ours(lambda: MatrixFactorization(objective="observed")),
              "MF no implicit (ours)": ours(lambda: MatrixFactorization(
                  objective="observed", implicit_feedback=False)),
              "MF gravity (ours)": ours(lambda: MatrixFactorization(objective="gravity",
                                                                    use_bias=True)),
              "MF weighted (ours)": ours(lambda: MatrixFactorization(
                  objective="weighted", use_bias=True, unobserved_weight=0.1)),
              "SVDModel (ours, zeros)": ours(SVDModel)}
    try:
        import surprise as _  # noqa: F401
        models.update({"Surprise SVD": surprise("SVD"), "Surprise SVD++": surprise("SVD++"),
                       "Surprise BaselineOnly": surprise("BaselineOnly")})
    except ImportError:
        print("scikit-surprise is not installed: pip install -r benchmarks/requirements.txt")
    if args.skip_slow:
        for name in ("MF gravity (ours)", "MF weighted (ours)", "Surprise SVD++"):
            models.pop(name, None)

    warm_split = predefined_split(dataset, args.folds[0])
    start = time.perf_counter()
    for params in ({"objective": "observed"}, {"objective": "observed", "implicit_feedback": False},
                   {"objective": "gravity"}):
        MatrixFactorization(epochs=1, **params).fit(warm_split.train)
    print(f"one-off numba compile/cache load (warm-up): {time.perf_counter() - start:.2f} s\n")

    results = {name: [] for name in models}
    for fold in args.folds:
        split = predefined_split(dataset, fold)
        for name, run in models.items():
            results[name].append(run(split.train, split.test))
        print(f"{fold} done: " + ", ".join(f"{n.split(' (')[0]} {r[-1][1]:.4f}"
                                           for n, r in results.items()), flush=True)

    reference = results.get("Surprise SVD")
    ref_seconds = np.mean([s for s, _ in reference]) if reference else None
    header = (f"{'model':<24}{'mean RMSE':>10}" + "".join(f"{f:>8}" for f in args.folds)
              + f"{'fit s/fold':>12}{'vs SVD':>8}")
    print("\nMovieLens 100K, explicit ratings, RMSE on the standard folds")
    print(header)
    print("-" * len(header))
    for name, runs in sorted(results.items(), key=lambda kv: np.mean([r for _, r in kv[1]])):
        seconds = np.mean([s for s, _ in runs])
        ratio = f"{seconds / ref_seconds:7.2f}x" if ref_seconds else f"{'':>8}"
        print(f"{name:<24}{np.mean([r for _, r in runs]):>10.4f}"
              + "".join(f"{r:>8.4f}" for _, r in runs) + f"{seconds:>12.3f}{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
