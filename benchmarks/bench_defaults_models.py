"""The defaults protocol (docs/defaults-protocol.md) for MF (SGD), SVD, item-kNN and content-based.

For each model, a small set of candidate settings around the previous default and its main levers
is fitted on each real catalogue's *validation* split (``catalogues.protocol_splits``, seed 0):
validation NDCG@10 and catalogue coverage@10 over the full catalogue, training items excluded
(``bench_defaults.evaluate``). The rule of docs/defaults-protocol.md then picks the default:

1. a catalogue's *best* is the best validation NDCG@10 of the candidates and of a 30-trial TPE
   search of the model's main hyperparameters on that catalogue (``--trials 0`` skips it: the
   best is then the best candidate);
2. a candidate's *worst share* is its lowest NDCG@10 / best over the catalogues;
3. those with worst share >= 95% qualify, and the one with the highest *worst coverage ratio*
   (lowest coverage@10 / coverage@10 of implicit's ALS after a 30-trial search, per catalogue)
   is the default (no candidate qualifying: the highest worst share).

Afterwards the chosen setting and the previous default are refitted on the whole training part and
scored once on the test part: a check that no choice used.

Catalogues per model: all three for MF, SVD and item-kNN; the two MovieLens ones for
content-based (Last.fm artists have no genres or years). MF on Last.fm is fitted on the 0/1
matrix: its SGD regresses the observed *values*, and on raw play counts (up to 352,698) every
setting diverges in the first epoch (printed as a check).

Content-based scores tie a lot (items with the same genres and decade have the same vector: 20%
distinct scores per user with the previous default, 0.3% with the year alone), and ``recommend``
breaks ties by the smaller item index, which on MovieLens follows the order of first rating, i.e.
popularity: "year only" reaches 0.054 on ml-100k by that order and 0.023 without it. So its rule
is applied to NDCG@10 with ties broken at random (seeded), a property of the model, not of a
catalogue's numbering; the index-order numbers are printed too.

    RECSYS_DATA_DIR=/path/with/catalogues python benchmarks/bench_defaults_models.py \
        [--models mf svd item_knn content] [--catalogues ...] [--trials 30] \
        [--reference-trials 30] [--reference-cache /tmp/implicit_reference.json]
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import optuna  # noqa: E402
import scipy.sparse as sp  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from recsys_core.errors import HyperparameterError  # noqa: E402
from recsys_core.models import ContentBased, MatrixFactorization, Popularity, SVDModel  # noqa: E402
from recsys_core.models.knn import ItemKNN  # noqa: E402
from bench_defaults import (ImplicitALS, evaluate, implicit_space,  # noqa: E402
                            search)
from bench_implicit import table  # noqa: E402
from catalogues import CATALOGUES, load_catalogue, protocol_splits  # noqa: E402

MOVIELENS = ("ml-100k", "ml-latest-small")
#: Per model: the settings every candidate starts from (the defaults before this protocol, so
#: that a run does not depend on the current defaults), candidates (label -> changes; the first
#: is the previous default), and the space of the optional TPE search.
MF_BASE = {"factors": 80}
MF_CANDIDATES = {
    "d 80, 30 ep, lr .015, lambda .08, w0 1.5 (previous default)": {},
    "w0 0.75": {"unobserved_weight": 0.75},
    "w0 3, lr .0075": {"unobserved_weight": 3.0, "learning_rate": 0.0075},
    "w0 3, lr .01": {"unobserved_weight": 3.0, "learning_rate": 0.01},
    "w0 5, lr .005": {"unobserved_weight": 5.0, "learning_rate": 0.005},
    "lambda .03": {"regularization": 0.03},
    "lambda .2": {"regularization": 0.2},
    "d 32": {"factors": 32},
    "d 160": {"factors": 160},
    "60 epochs": {"epochs": 60},
    "w0 3, lr .0075, 60 epochs": {"unobserved_weight": 3.0, "learning_rate": 0.0075,
                                  "epochs": 60},
    "w0 3, lr .0075, d 160": {"unobserved_weight": 3.0, "learning_rate": 0.0075, "factors": 160},
    "w0 3, lr .0075, lambda .03": {"unobserved_weight": 3.0, "learning_rate": 0.0075,
                                   "regularization": 0.03},
    "w0 3, lr .0075, lambda .2": {"unobserved_weight": 3.0, "learning_rate": 0.0075,
                                  "regularization": 0.2},
    "no averaging": {"averaging": 0.0},
    "d 256": {"factors": 256},
    "d 160, 60 epochs": {"factors": 160, "epochs": 60},
    "d 160, w0 2, lr .01": {"factors": 160, "unobserved_weight": 2.0, "learning_rate": 0.01},
}
SVD_BASE = {"factors": 16, "binary": True}
SVD_CANDIDATES = {
    "d 16, 0/1 (previous default)": {},
    "d 8, 0/1": {"factors": 8},
    "d 12, 0/1": {"factors": 12},
    "d 24, 0/1": {"factors": 24},
    "d 32, 0/1": {"factors": 32},
    "d 48, 0/1": {"factors": 48},
    "d 64, 0/1": {"factors": 64},
    "d 96, 0/1": {"factors": 96},
    "d 128, 0/1": {"factors": 128},
    "d 256, 0/1": {"factors": 256},
    "d 16, values": {"binary": False},
    "d 64, values": {"factors": 64, "binary": False},
    "d 128, values": {"factors": 128, "binary": False},
}
KNN_BASE = {"neighbours": 100, "shrinkage": 10.0}
KNN_CANDIDATES = {"k 100, s 10 (previous default)": {}} | {
    f"k {k}, s {s:g}": {"neighbours": k, "shrinkage": float(s)}
    for k in (20, 50, 100, 200, 500) for s in (0, 10, 50) if (k, s) != (100, 10)} | {
    f"k {k}, s 25": {"neighbours": k, "shrinkage": 25.0} for k in (20, 50, 100)}
CONTENT_BASE = {"features": "genres+year", "weighting": "tfidf", "year_bucket": 10,
                "year_weight": 0.5, "center_ratings": True, "measure": "cosine"}
CONTENT_CANDIDATES = {
    "genres+year, tfidf, cosine, year .5, centred (previous default)": {},
    "measure dot": {"measure": "dot"},
    "measure euclidean": {"measure": "euclidean"},
    "measure tempered .5": {"measure": "tempered"},
    "genres only": {"features": "genres"},
    "year only": {"features": "year"},
    "binary weighting": {"weighting": "binary"},
    "binary weighting, dot": {"weighting": "binary", "measure": "dot"},
    "year weight .25": {"year_weight": 0.25},
    "year weight 1": {"year_weight": 1.0},
    "year bucket 5": {"year_bucket": 5},
    "year bucket 20": {"year_bucket": 20},
    "not centred": {"center_ratings": False},
    "not centred, dot": {"center_ratings": False, "measure": "dot"},
}


def mf_space(trial) -> dict:
    w0 = trial.suggest_float("unobserved_weight", 0.3, 10.0, log=True)
    return {"factors": trial.suggest_int("factors", 16, 256, log=True),
            "regularization": trial.suggest_float("regularization", 0.005, 1.0, log=True),
            "unobserved_weight": w0,
            # lr x w0 below about 0.04 (beyond it SGD diverges)
            "learning_rate": trial.suggest_float("lr_times_w0", 0.005, 0.035, log=True) / w0,
            "epochs": trial.suggest_int("epochs", 10, 80, log=True)}


def svd_space(trial) -> dict:
    return {"factors": trial.suggest_int("factors", 4, 400, log=True),
            "binary": trial.suggest_categorical("binary", [True, False])}


def knn_space(trial) -> dict:
    return {"neighbours": trial.suggest_int("neighbours", 5, 2000, log=True),
            "shrinkage": trial.suggest_float("shrinkage", 0.0, 200.0)}


def content_space(trial) -> dict:
    return {"features": trial.suggest_categorical("features", ["genres", "year", "genres+year"]),
            "weighting": trial.suggest_categorical("weighting", ["binary", "tfidf"]),
            "measure": trial.suggest_categorical("measure",
                                                 ["dot", "cosine", "euclidean", "tempered"]),
            "year_weight": trial.suggest_float("year_weight", 0.0, 2.0),
            "center_ratings": trial.suggest_categorical("center_ratings", [True, False])}


class RandomTiesContent(ContentBased):
    """ContentBased whose equal scores are ordered at random (seed 0) instead of by the smaller
    item index: the top k by (score, random key), training items excluded."""

    def recommend(self, users, k: int = 10):
        users = self._user_index_array(users)
        scores = self.score(users).astype(np.float32)
        seen = self.seen_[users]
        scores[np.repeat(np.arange(len(users)), np.diff(seen.indptr)), seen.indices] = -np.inf
        keys = np.random.default_rng(0).random(scores.shape)
        top = np.lexsort((keys, -scores), axis=-1)[:, :k]
        return top, np.take_along_axis(scores, top, axis=1)


def _from(base: dict, candidates: dict) -> dict:
    return {label: base | changes for label, changes in candidates.items()}


MODELS = {
    "mf": ("MF (SGD)", MatrixFactorization, CATALOGUES, _from(MF_BASE, MF_CANDIDATES), mf_space),
    "svd": ("SVD", SVDModel, CATALOGUES, _from(SVD_BASE, SVD_CANDIDATES), svd_space),
    "item_knn": ("item-kNN", ItemKNN, CATALOGUES, _from(KNN_BASE, KNN_CANDIDATES), knn_space),
    "content": ("Content-based", RandomTiesContent, MOVIELENS,
                _from(CONTENT_BASE, CONTENT_CANDIDATES), content_space),
}


def binary_matrix(dataset) -> sp.csr_matrix:
    matrix = dataset.ratings.tocsr().astype(np.float32)
    matrix.data = np.ones_like(matrix.data)
    return matrix


def training_data(kind: str, catalogue: str, dataset):
    """What a model is fitted on: the Dataset, except MF on play counts (the 0/1 matrix)."""
    if kind == "mf" and not dataset.is_explicit and np.any(dataset.ratings.data != 1):
        return binary_matrix(dataset)
    return dataset


def fit_score(kind, cls, params, catalogue, split):
    start = time.perf_counter()
    try:
        model = cls(**params).fit(training_data(kind, catalogue, split.train))
    except HyperparameterError as error:  # diverged
        return None, time.perf_counter() - start, str(error)
    seconds = time.perf_counter() - start
    return evaluate(model, split), seconds, None


def implicit_reference(catalogues, splits, trials, cache) -> dict:
    """Validation coverage@10 of implicit's ALS after a TPE search, per catalogue."""
    stored = json.loads(Path(cache).read_text()) if cache and Path(cache).exists() else {}
    for name in catalogues:
        if name not in stored:
            params, result = search(f"{name}: implicit ALS", lambda p: ImplicitALS(**p),
                                    implicit_space, splits[name][1], trials)
            stored[name] = {"params": params, "ndcg": result.ndcg, "coverage": result.coverage}
    if cache:
        Path(cache).write_text(json.dumps(stored, indent=1))
    return stored


def run_model(kind, splits, reference, args):
    title, cls, model_catalogues, candidates, space = MODELS[kind]
    names = [n for n in args.catalogues if n in model_catalogues]
    print(f"\n=== {title}: {len(candidates)} candidates on {', '.join(names)}", flush=True)
    val, seconds = {}, {}
    for label, params in candidates.items():
        for name in names:
            val[label, name], seconds[label, name], error = fit_score(
                kind, cls, params, name, splits[name][1])
            if error:
                print(f"  {label} on {name}: {error}", flush=True)
    best = {name: max(val[label, name].ndcg for label in candidates if val[label, name])
            for name in names}
    searched = {}
    if args.trials:
        for name in names:
            validation = splits[name][1]
            searched[name] = search(f"{name}: {title}", lambda p: _Pruned(cls(**p)), space,
                                    _Bound(kind, name, validation), args.trials)
            best[name] = max(best[name], searched[name][1].ndcg)
    pop = {name: evaluate(Popularity().fit(splits[name][1].train), splits[name][1])
           for name in names}

    def share(label):
        return min((val[label, n].ndcg if val[label, n] else 0.0) / best[n] for n in names)

    def coverage_ratio(label):
        return min((val[label, n].coverage if val[label, n] else 0.0)
                   / reference[n]["coverage"] for n in names)

    rows = []
    for label in candidates:
        row = [label]
        for name in names:
            s = val[label, name]
            row += [f"{s.ndcg:.4f}" if s else "diverged", f"{s.coverage:.3f}" if s else ""]
        row += [f"{share(label):.1%}", f"{coverage_ratio(label):.2f}",
                " / ".join(f"{seconds[label, n]:.1f}" for n in names)]
        rows.append(row)
    if searched:
        row = [f"best of a {args.trials}-trial TPE search (each catalogue's own)"]
        for name in names:
            row += [f"{searched[name][1].ndcg:.4f}", f"{searched[name][1].coverage:.3f}"]
        rows.append(row + ["", "", ""])
    row = ["popularity (reference)"]
    for name in names:
        row += [f"{pop[name].ndcg:.4f}", f"{pop[name].coverage:.3f}"]
    rows.append(row + ["", "", ""])
    row = ["implicit ALS, searched (coverage reference)"]
    for name in names:
        row += [f"{reference[name]['ndcg']:.4f}", f"{reference[name]['coverage']:.3f}"]
    rows.append(row + ["", "", ""])
    header = ["setting"] + [f"{n} {m}" for n in names for m in ("NDCG@10", "cov@10")]
    ties = " (ties at random)" if cls is RandomTiesContent else ""
    table(f"{title}: validation NDCG@10 and coverage@10{ties} (best: "
          + ", ".join(f"{n} {best[n]:.4f}" for n in names)
          + ("" if args.trials else "; search skipped, best = best candidate") + ")",
          header + ["worst share", "worst cov. ratio", "fit s"], rows)

    if cls is RandomTiesContent:
        rows = []
        for label, params in candidates.items():
            row = [label]
            for name in names:
                s, _, _ = fit_score(kind, ContentBased, params, name, splits[name][1])
                row += [f"{s.ndcg:.4f}", f"{s.coverage:.3f}"]
            rows.append(row)
        table(f"{title}: the same, ties broken by item index as recommend does (not used by "
              "the rule)", header, rows)

    qualified = [label for label in candidates if share(label) >= 0.95]
    chosen = (max(qualified, key=coverage_ratio) if qualified else max(candidates, key=share))
    previous = next(iter(candidates))
    how = ("the highest worst coverage ratio among them" if qualified
           else "none qualifies, so the highest worst share")
    print(f"\nRule: {len(qualified)} of {len(candidates)} candidates have worst share >= 95%; "
          f"{how} -> {chosen} "
          f"({candidates[chosen]}; worst share {share(chosen):.1%}, "
          f"worst coverage ratio {coverage_ratio(chosen):.2f}). Previous default: worst share "
          f"{share(previous):.1%}, worst coverage ratio {coverage_ratio(previous):.2f}.",
          flush=True)

    rows = []
    for label in dict.fromkeys([chosen, previous]):
        for name in names:
            s, secs, error = fit_score(kind, cls, candidates[label], name, splits[name][0])
            rows.append([label, name, f"{s.ndcg:.4f}" if s else "diverged",
                         f"{s.coverage:.3f}" if s else "", f"{secs:.1f}"])
    table(f"{title}: test NDCG@10 (a check no choice used: refitted on the whole training part)",
          ["setting", "catalogue", "NDCG@10", "cov@10", "fit s"], rows)
    if kind == "mf" and "lastfm-2k" in names:
        _, _, error = fit_score("raw", cls, candidates[chosen], "lastfm-2k", splits["lastfm-2k"][1])
        print(f"  MF on Last.fm's raw play counts with the chosen setting: {error or 'fitted'}")
    return chosen, candidates[chosen]


class _Pruned:
    """A model whose diverged fit is a pruned search trial (the search goes on without it)."""

    def __init__(self, model):
        self.model = model

    def fit(self, data):
        try:
            return self.model.fit(data)
        except HyperparameterError as error:
            raise optuna.TrialPruned(str(error)) from error


class _Bound:
    """A validation split whose ``train`` is what MF is fitted on (the 0/1 matrix for counts)."""

    def __init__(self, kind, name, split):
        self.train = training_data(kind, name, split.train)
        self.test = split.test


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--catalogues", nargs="+", default=list(CATALOGUES), choices=CATALOGUES)
    parser.add_argument("--trials", type=int, default=30,
                        help="TPE trials per model and catalogue for the best (0: skipped)")
    parser.add_argument("--reference-trials", type=int, default=30,
                        help="TPE trials of implicit's ALS, the coverage reference")
    parser.add_argument("--reference-cache", default=None,
                        help="JSON file keeping the implicit ALS reference between runs")
    args = parser.parse_args()
    splits = {}
    for name in args.catalogues:
        dataset = load_catalogue(name)
        splits[name] = protocol_splits(dataset, seed=0)
        print(f"{name}: {dataset.n_users} users x {dataset.n_items} items, "
              f"{dataset.n_ratings} interactions", flush=True)
    reference = implicit_reference(args.catalogues, splits, args.reference_trials,
                                   args.reference_cache)
    chosen = {kind: run_model(kind, splits, reference, args) for kind in args.models}
    print("\nChosen defaults:")
    for kind, (label, params) in chosen.items():
        print(f"  {MODELS[kind][0]}: {label} {params}")


if __name__ == "__main__":
    main()
