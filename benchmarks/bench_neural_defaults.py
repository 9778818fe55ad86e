"""Defaults of the softmax and two-tower models (issue 19.4) by the defaults protocol.

Each candidate setting is fitted on the validation split's training part of the three real
catalogues (:mod:`catalogues`: ml-100k, ml-latest-small, lastfm-2k) and scored by validation
NDCG@10 over the full catalogue, training items excluded. The test parts play no part in the
choice.

The rule (written down before the run): per model, the default is the setting with the highest
*worst share*, the lowest over the three catalogues of its validation NDCG@10 divided by the best
validation NDCG@10 any tried setting of that model reached on that catalogue. Target: on every
catalogue at least 90% of the WALS defaults' validation NDCG@10 (printed as a reference row).
Afterwards the chosen setting is fitted on each test split's training part and its test NDCG@10
is printed once, labelled "check, not used".

The candidates are changes from the former defaults (below), picked after exploratory
validation-only runs (hidden layers, factors, batch size, learning rate and its decay,
regularization, negatives, loss, user weighting, target fraction). Results: section "Neural
models (softmax, two-tower)" of docs/defaults-protocol.md. Fits run BLAS on one thread; wall
seconds depend on what else the machine runs, CPU seconds less so.

    RECSYS_DATA_DIR=... python benchmarks/bench_neural_defaults.py [--model softmax] [--seed 0]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalogues import CATALOGUES, load_catalogue, protocol_splits  # noqa: E402
from recsys_core.evaluation.metrics import evaluate_model  # noqa: E402
from recsys_core.models import WALS, SoftmaxModel, TwoTowerModel  # noqa: E402

MODELS = {"softmax": SoftmaxModel, "two_tower": TwoTowerModel}

#: The defaults before issue 19.4 (chosen on ml-100k alone), every parameter the grid touches.
FORMER = {
    "softmax": dict(factors=64, hidden_layers=(128,), tie_embeddings=True, batch_size=64,
                    learning_rate=0.002, learning_rate_decay=1.0, epochs=40,
                    regularization=3e-5, user_weighting=0.5),
    "two_tower": dict(factors=64, hidden_layers=(128,), item_hidden_layers=(64,), batch_size=64,
                      learning_rate=0.002, learning_rate_decay=1.0, epochs=30,
                      regularization=1e-4, user_weighting=0.5),
}

# Shorthands for the changes the grids combine.
LINEAR = dict(hidden_layers=())
DECAY = dict(batch_size=256, learning_rate=0.01, learning_rate_decay=0.93, epochs=40)
D128 = dict(factors=128)

GRIDS = {
    "softmax": {
        "former defaults": {},
        "linear query tower": LINEAR,
        "linear, reg 1e-4": {**LINEAR, "regularization": 1e-4},
        "linear, batch 256, lr 0.004": {**LINEAR, "batch_size": 256, "learning_rate": 0.004},
        "linear, b256 lr 0.01 x0.93/epoch": {**LINEAR, **DECAY},
        "linear, b256 lr 0.01 x0.93, d128": {**LINEAR, **DECAY, **D128},
        "linear, b256 lr 0.01 x0.93, d128, untied": {**LINEAR, **DECAY, **D128,
                                                     "tie_embeddings": False},
        "linear, b256 lr 0.01 x0.93, d128, uw 0.25": {**LINEAR, **DECAY, **D128,
                                                      "user_weighting": 0.25},
        "linear, b256 lr 0.01 x0.93, d256": {**LINEAR, **DECAY, "factors": 256},
        "linear, b256 lr 0.01 x0.93, d128, 60 ep": {**LINEAR, **DECAY, **D128, "epochs": 60},
        "linear, b128 lr 0.005 x0.93, d128": {**LINEAR, **DECAY, **D128, "batch_size": 128,
                                              "learning_rate": 0.005},
        "linear, b512 lr 0.01 x0.93, d128": {**LINEAR, **DECAY, **D128, "batch_size": 512},
        "linear, b256 lr 0.02 x0.9, d128": {**LINEAR, **DECAY, **D128, "learning_rate": 0.02,
                                            "learning_rate_decay": 0.9},
        "hidden 128, b256 lr 0.01 x0.93, d128": {**DECAY, **D128},
        "hidden 256, b256 lr 0.01 x0.93, d128": {**DECAY, **D128, "hidden_layers": (256,)},
        "d128": D128,
    },
    "two_tower": {
        "former defaults": {},
        "linear query tower": LINEAR,
        "linear item tower": dict(item_hidden_layers=()),
        "both linear": {**LINEAR, "item_hidden_layers": ()},
        "both linear, batch 256, lr 0.004": {**LINEAR, "item_hidden_layers": (),
                                             "batch_size": 256, "learning_rate": 0.004},
        "b256 lr 0.01 x0.93/epoch, d128": {**DECAY, **D128},
        "linear query, b256 lr 0.01 x0.93, d128": {**LINEAR, **DECAY, **D128},
        "linear item, b256 lr 0.01 x0.93, d128": {**DECAY, **D128, "item_hidden_layers": ()},
        "both linear, b256 lr 0.01 x0.93, d128": {**LINEAR, **DECAY, **D128,
                                                  "item_hidden_layers": ()},
        "both linear, ... d128, reg 3e-5": {**LINEAR, **DECAY, **D128, "item_hidden_layers": (),
                                            "regularization": 3e-5},
        "both linear, ... d128, uw 0.25": {**LINEAR, **DECAY, **D128, "item_hidden_layers": (),
                                           "user_weighting": 0.25},
        "both linear, ... d128, 60 ep": {**LINEAR, **DECAY, **D128, "item_hidden_layers": (),
                                         "epochs": 60},
        "both linear, b256 lr 0.01 x0.93, d256": {**LINEAR, **DECAY, "factors": 256,
                                                  "item_hidden_layers": ()},
        "both linear, b128 lr 0.005 x0.93, d128": {**LINEAR, **DECAY, **D128,
                                                   "item_hidden_layers": (), "batch_size": 128,
                                                   "learning_rate": 0.005},
        "both linear, b256 lr 0.02 x0.9, d128": {**LINEAR, **DECAY, **D128,
                                                 "item_hidden_layers": (), "learning_rate": 0.02,
                                                 "learning_rate_decay": 0.9},
        "d128": D128,
    },
}


def run(model_cls, params, train, test):
    """(NDCG@10, coverage@10, wall seconds, CPU seconds) of one fit on ``train``."""
    model = model_cls(**params)
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(train)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    scores = evaluate_model(model, test, 10)
    return scores["ndcg@10"], scores["coverage"], wall, cpu


def settings(name):
    """Label -> full parameters: the grid, plus the code's current defaults if not in it."""
    grid = {label: {**FORMER[name], **change} for label, change in GRIDS[name].items()}
    current = {k: v for k, v in MODELS[name]().get_params().items() if k in FORMER[name]}
    same = [label for label, p in grid.items() if _same(p, current)]
    if same:
        return grid, same[0]
    return {**grid, "current defaults": current}, "current defaults"


def _same(a, b):
    norm = lambda p: {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in p.items()}
    return norm(a) == norm(b)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=[*MODELS, "both"], default="both")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    splits = {}
    for cat in CATALOGUES:
        splits[cat] = protocol_splits(load_catalogue(cat), seed=args.seed)
    wals = {cat: run(WALS, {}, val.train, val.test)[0] for cat, (_, val) in splits.items()}
    names = list(MODELS) if args.model == "both" else [args.model]
    for name in names:
        grid, current = settings(name)
        results = {}
        for label, params in grid.items():
            results[label] = {cat: run(MODELS[name], params, val.train, val.test)
                              for cat, (_, val) in splits.items()}
            print(f"  {label}: " + "  ".join(f"{r[0]:.4f}" for r in results[label].values()),
                  file=sys.stderr, flush=True)
        best = {cat: max(r[cat][0] for r in results.values()) for cat in CATALOGUES}
        worst = {label: min(r[cat][0] / best[cat] for cat in CATALOGUES)
                 for label, r in results.items()}
        chosen = max(worst, key=worst.get)
        print(f"\n### {name}: validation NDCG@10 (seed {args.seed}), worst share of each "
              "catalogue's best\n")
        print("| setting | " + " | ".join(CATALOGUES) + " | worst share | vs WALS (worst) | "
              "coverage@10 | fit s wall | fit s CPU |")
        print("|---|" + "---:|" * (len(CATALOGUES) + 5))
        for label, r in results.items():
            tag = (" **chosen**" if label == chosen else "") + (
                " (current defaults)" if label == current else "")
            vs_wals = min(r[cat][0] / wals[cat] for cat in CATALOGUES)
            print(f"| {label}{tag} | " + " | ".join(f"{r[c][0]:.4f}" for c in CATALOGUES)
                  + f" | {worst[label]:.1%} | {vs_wals:.1%} | "
                  + " / ".join(f"{r[c][1]:.3f}" for c in CATALOGUES) + " | "
                  + " / ".join(f"{r[c][2]:.0f}" for c in CATALOGUES) + " | "
                  + " / ".join(f"{r[c][3]:.0f}" for c in CATALOGUES) + " |")
        print("| WALS defaults (reference) | " + " | ".join(f"{wals[c]:.4f}" for c in CATALOGUES)
              + " | | 100.0% | | | |")
        print("| 90% of WALS (target) | " + " | ".join(f"{0.9 * wals[c]:.4f}" for c in CATALOGUES)
              + " | | 90.0% | | | |")
        print(f"\nchosen by the rule: {chosen}: {grid[chosen]}")
        print(f"current defaults: {current} (worst share {worst[current]:.1%}, chosen "
              f"{worst[chosen]:.1%})")
        check = {cat: run(MODELS[name], grid[chosen], test.train, test.test)[0]
                 for cat, (test, _) in splits.items()}
        print("test NDCG@10 of the chosen setting (check, not used): "
              + ", ".join(f"{cat} {v:.4f}" for cat, v in check.items()))


if __name__ == "__main__":
    main()
