"""The defaults protocol (docs/defaults-protocol.md) for WALS, with its peers in the same tables.

On each real catalogue of ``benchmarks/catalogues.py`` (ml-100k, ml-latest-small, lastfm-2k):

1. Validation (choices): WALS candidate settings, a 30-trial TPE search of WALS over a wide space,
   the same search of implicit's ALS, EASE and item-kNN grids, popularity; validation NDCG@10
   and catalogue coverage@10 of each. The rule (docs/defaults-protocol.md) picks WALS's default
   among the candidates: of those within 95% of each catalogue's best validation NDCG@10, the
   one whose coverage@10 stays closest to implicit's searched ALS on every catalogue.
2. Test (a check no choice used): the candidates, the best settings found, EASE, item-kNN,
   implicit's ALS and popularity refitted on the whole training part and scored once on test,
   with the paired per-user difference to EASE and its standard error.

    RECSYS_DATA_DIR=/path/with/catalogues python benchmarks/bench_defaults.py \
        [--catalogues ml-100k ml-latest-small lastfm-2k] [--trials 30] [--skip-ease]
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys_core.evaluation.metrics import (catalogue_coverage,  # noqa: E402
                                            ranking_metrics_per_user)
from recsys_core.models import EASE, WALS, Popularity  # noqa: E402
from recsys_core.models.knn import ItemKNN  # noqa: E402
from bench_implicit import table  # noqa: E402  (this folder is on the path as a script)
from catalogues import CATALOGUES, load_catalogue, protocol_splits  # noqa: E402

K = 10
#: WALS candidates for the default, each written out in full (the rule picks one; the class's
#: current defaults are marked in the tables).
_OBSERVED = {"regularization_type": "observed", "regularization": 0.8, "unobserved_weight": 0.1,
             "factors": 64, "item_frequency_exponent": 0.0}
WALS_CANDIDATES = {
    "observed, lambda 0.8, w0 0.1, d 64": _OBSERVED,
    "observed, lambda 0.5, w0 0.1, d 64": {**_OBSERVED, "regularization": 0.5},
    "observed, lambda 1.2, w0 0.1, d 64": {**_OBSERVED, "regularization": 1.2},
    "observed, lambda 0.8, w0 0.3, d 64": {**_OBSERVED, "unobserved_weight": 0.3},
    "observed, lambda 0.8, w0 0.1, d 128": {**_OBSERVED, "factors": 128},
    "observed, lambda 0.8, w0 0.1, item freq. 0.25": {**_OBSERVED,
                                                      "item_frequency_exponent": 0.25},
    "observed, lambda 0.5, w0 0.3, d 64": {**_OBSERVED, "regularization": 0.5,
                                           "unobserved_weight": 0.3},
    "observed, lambda 0.5, w0 0.1, d 128": {**_OBSERVED, "regularization": 0.5, "factors": 128},
    "observed, lambda 0.65, w0 0.1, d 64": {**_OBSERVED, "regularization": 0.65},
    "previous: frequency, lambda 0.6, w0 0.1, item freq. 0.25": {
        **_OBSERVED, "regularization_type": "frequency", "regularization": 0.6,
        "item_frequency_exponent": 0.25},
    "former: l2, lambda 8, w0 0.3, item freq. 0.25": {
        **_OBSERVED, "regularization_type": "l2", "regularization": 8.0,
        "unobserved_weight": 0.3, "item_frequency_exponent": 0.25},
}


def is_current_default(params: dict) -> bool:
    defaults = WALS().get_params()
    return all(defaults[name] == value for name, value in params.items())


EASE_GRID = (100.0, 300.0, 1000.0)
KNN_GRID = [{"neighbours": n, "shrinkage": s} for n in (50, 100, 200, 400) for s in (0.0, 10.0, 50.0)]


@dataclass
class Score:
    ndcg: float
    coverage: float
    per_user: np.ndarray  # NDCG@10 of each evaluated user


def score(recommended: np.ndarray, relevant: sp.csr_matrix, n_items: int) -> Score:
    per_user = ranking_metrics_per_user(recommended, relevant, K)[f"ndcg@{K}"]
    return Score(float(per_user.mean()), catalogue_coverage(recommended, n_items), per_user)


def evaluate(model, split) -> Score:
    """Top-10 over the full catalogue, training items excluded, for every user with test items."""
    test = split.test.ratings
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    return score(model.recommend(users, K)[0], test[users], test.shape[1])


class ImplicitALS:
    """implicit's ALS on binary input or log(1 + value) confidences (for counts)."""

    def __init__(self, factors=64, regularization=0.05, alpha=1.0, log_values=False,
                 iterations=15):
        from implicit.cpu.als import AlternatingLeastSquares

        self.log_values = log_values
        self.model = AlternatingLeastSquares(factors=int(factors), regularization=regularization,
                                             alpha=alpha, iterations=iterations, random_state=0,
                                             num_threads=2, calculate_training_loss=False)

    def fit(self, dataset):
        matrix = dataset.ratings.astype(np.float32).tocsr()
        matrix.data = np.log1p(matrix.data) if self.log_values else np.ones_like(matrix.data)
        self.train = matrix
        with threadpool_limits(1, "blas"):
            self.model.fit(matrix, show_progress=False)
        return self

    def recommend(self, users, k):
        ids, _ = self.model.recommend(users, self.train[users], N=k,
                                      filter_already_liked_items=True)
        return np.asarray(ids, dtype=np.int64), None


def search(name, build, space, validation, trials: int) -> tuple[dict, Score]:
    """A TPE search (seed 0) of validation NDCG@10; the best setting and its score."""
    best: list = [None, None]

    def objective(trial):
        params = space(trial)
        result = evaluate(build(params).fit(validation.train), validation)
        if best[1] is None or result.ndcg > best[1].ndcg:
            best[:] = [params, result]
        return result.ndcg

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=0))
    start = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    print(f"  {name} search: {trials} trials, {time.perf_counter() - start:.0f} s; best "
          f"{best[1].ndcg:.4f} at {best[0]}", flush=True)
    return best[0], best[1]


def wals_space(trial) -> dict:
    return {"regularization": trial.suggest_float("regularization", 0.1, 4.0, log=True),
            "unobserved_weight": trial.suggest_float("unobserved_weight", 0.01, 1.0, log=True),
            "factors": trial.suggest_int("factors", 16, 256, log=True)}


def implicit_space(trial) -> dict:
    return {"factors": trial.suggest_int("factors", 16, 256, log=True),
            "regularization": trial.suggest_float("regularization", 0.01, 100.0, log=True),
            "alpha": trial.suggest_float("alpha", 0.1, 100.0, log=True),
            "log_values": trial.suggest_categorical("log_values", [False, True])}


def grid(build, settings, validation) -> tuple[dict, Score]:
    results = [(p, evaluate(build(p).fit(validation.train), validation)) for p in settings]
    return max(results, key=lambda r: r[1].ndcg)


def paired(a: Score, b: Score) -> str:
    diff = a.per_user - b.per_user
    return f"{diff.mean():+.4f} ± {diff.std(ddof=1) / np.sqrt(diff.size):.4f}"


def run_catalogue(name: str, args) -> dict:
    dataset = load_catalogue(name)
    test_split, validation = protocol_splits(dataset, seed=0)
    print(f"\n{name}: {dataset.n_users} users x {dataset.n_items} items, "
          f"{dataset.n_ratings} interactions", flush=True)
    out = {"validation": {}, "test": {}, "settings": {}}
    val = out["validation"]
    for label, params in WALS_CANDIDATES.items():
        start = time.perf_counter()
        val[label] = evaluate(WALS(**params).fit(validation.train), validation)
        out["settings"][label] = (WALS, params, time.perf_counter() - start)
    params, val["WALS, best of the search"] = search("WALS", lambda p: WALS(**p), wals_space,
                                                     validation, args.trials)
    out["settings"]["WALS, best of the search"] = (WALS, params, None)
    params, val["implicit ALS, best of the search"] = search(
        "implicit ALS", lambda p: ImplicitALS(**p), implicit_space, validation, args.trials)
    out["settings"]["implicit ALS, best of the search"] = (ImplicitALS, params, None)
    params, val["item-kNN, best of its grid"] = grid(lambda p: ItemKNN(**p), KNN_GRID, validation)
    out["settings"]["item-kNN, best of its grid"] = (ItemKNN, params, None)
    if not args.skip_ease:
        params, val["EASE, best of its grid"] = grid(
            lambda p: EASE(**p), [{"regularization": r} for r in EASE_GRID], validation)
        out["settings"]["EASE, best of its grid"] = (EASE, params, None)
    val["popularity"] = evaluate(Popularity().fit(validation.train), validation)
    out["settings"]["popularity"] = (Popularity, {}, None)
    return out | {"test_split": test_split}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalogues", nargs="+", default=list(CATALOGUES), choices=CATALOGUES)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--skip-ease", action="store_true",
                        help="leave EASE out (an n_items^2 inverse: minutes at 17.6k items)")
    args = parser.parse_args()
    results = {name: run_catalogue(name, args) for name in args.catalogues}

    best = {name: max(r.ndcg for r in res["validation"].values()) for name, res in results.items()}
    shares = {label: min(results[n]["validation"][label].ndcg / best[n] for n in results)
              for label in WALS_CANDIDATES}
    rows = []
    labels = list(next(iter(results.values()))["validation"])
    for label in labels:
        row = [label + (" (current default)" if label in WALS_CANDIDATES
                        and is_current_default(WALS_CANDIDATES[label]) else "")]
        for name in results:
            s = results[name]["validation"][label]
            row += [f"{s.ndcg:.4f}", f"{s.coverage:.3f}"]
        row.append(f"{shares[label]:.1%}" if label in shares else "")
        rows.append(row)
    header = ["validation (choices)"] + [f"{n} {m}" for n in results for m in ("NDCG@10", "cov@10")]
    table("Validation NDCG@10 and coverage@10 (fit on the validation split's training part)",
          header + ["worst share"], rows)
    implicit = "implicit ALS, best of the search"
    coverage_ratio = {label: min(results[n]["validation"][label].coverage
                                 / results[n]["validation"][implicit].coverage for n in results)
                      for label in WALS_CANDIDATES}
    qualified = [label for label in WALS_CANDIDATES if shares[label] >= 0.95]
    chosen = (max(qualified, key=coverage_ratio.get) if qualified
              else max(shares, key=shares.get))
    for label in WALS_CANDIDATES:
        print(f"  {label}: worst share {shares[label]:.1%}, worst coverage ratio to implicit "
              f"{coverage_ratio[label]:.2f}")
    print(f"\nRule: of the candidates with worst share >= 95% ({len(qualified)}), the highest "
          f"worst coverage ratio -> {chosen} ({shares[chosen]:.1%}, "
          f"{coverage_ratio[chosen]:.2f})")
    for name, res in results.items():
        settings = {label: res["settings"][label][1] for label in res["settings"]
                    if "best" in label}
        print(f"  {name}: best settings found {settings}")

    rows = []
    test_labels = [chosen] + [label for label in labels if label not in WALS_CANDIDATES]
    for name, res in results.items():
        scores = {}
        for label in test_labels:
            cls, params, _ = res["settings"][label]
            start = time.perf_counter()
            model = cls(**params).fit(res["test_split"].train)
            seconds = time.perf_counter() - start
            scores[label] = evaluate(model, res["test_split"])
            rows.append([name, label, f"{scores[label].ndcg:.4f}",
                         f"{scores[label].coverage:.3f}", f"{seconds:.1f}", ""])
        if "EASE, best of its grid" in scores:
            for row in rows:
                if row[0] == name and row[1] != "EASE, best of its grid":
                    row[5] = paired(scores[row[1]], scores["EASE, best of its grid"])
    table("Test (a check: no choice used it), refitted on the whole training part",
          ["catalogue", "model", "NDCG@10", "cov@10", "fit s", "minus EASE (± paired SE)"], rows)


if __name__ == "__main__":
    main()
