"""How much the per-user random holdout flatters models: NDCG@10 under it and under the global
temporal split with the same test fraction (docs/splits.md).

On ml-100k and ml-latest-small (``benchmarks/catalogues.py``), WALS with its defaults, EASE with
its defaults and popularity are fitted on the training part of each split and scored on its
test part (every test user; training items excluded). The temporal split's counts of test
ratings dropped because their user or item first appears after the cut-off are printed beside
it, each score with its standard error over test users, and a last row per catalogue gives the
temporal score as a share of the random one.

    RECSYS_DATA_DIR=/path/with/catalogues python benchmarks/bench_temporal_split.py \
        [--catalogues ml-100k ml-latest-small] [--test-fraction 0.2] [--seed 0]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys_core.evaluation.metrics import ranking_metrics_per_user  # noqa: E402
from recsys_core.evaluation.split import (format_time, holdout_split,  # noqa: E402
                                          temporal_split)
from recsys_core.models import EASE, WALS, Popularity  # noqa: E402
from catalogues import load_catalogue  # noqa: E402

MODELS = {"WALS": WALS, "EASE": EASE, "popularity": Popularity}


def ndcg(model_cls, split) -> tuple[float, float]:
    """(mean NDCG@10 over the test users, its standard error)."""
    model = model_cls().fit(split.train)
    test = split.test.ratings
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    per_user = ranking_metrics_per_user(model.recommend(users, 10)[0], test[users], 10)["ndcg@10"]
    return float(per_user.mean()), float(per_user.std(ddof=1) / np.sqrt(len(per_user)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalogues", nargs="+", default=["ml-100k", "ml-latest-small"])
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    header = ["catalogue", "split", "test ratings", "test users", "dropped (ratings/new users/"
              "new items)", *(f"{m} NDCG@10" for m in MODELS)]
    rows, seconds = [], time.perf_counter()
    for name in args.catalogues:
        data = load_catalogue(name)
        splits = {"per-user random": holdout_split(data, args.test_fraction, seed=args.seed),
                  "global temporal": temporal_split(data, test_fraction=args.test_fraction)}
        scores = {}
        for label, split in splits.items():
            scores[label] = {m: ndcg(cls, split) for m, cls in MODELS.items()}
            d = split.dropped
            what = label if label != "global temporal" else \
                f"{label} at {format_time(split.params['cutoff'])}"
            rows.append([name, what, f"{split.test.n_ratings:,}",
                         f"{np.count_nonzero(split.test.user_activity):,}",
                         f"{d['ratings']:,} / {d['users']:,} / {d['items']:,}",
                         *(f"{scores[label][m][0]:.4f} ± {scores[label][m][1]:.4f}"
                           for m in MODELS)])
            print(f"{name}: {split.describe()} ({time.perf_counter() - seconds:.0f} s)",
                  file=sys.stderr, flush=True)
        rows.append([name, "temporal / random", "", "", "", *(
            f"{scores['global temporal'][m][0] / scores['per-user random'][m][0]:.2f}x"
            for m in MODELS)])
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    print(f"\n{args.test_fraction:.0%} of the ratings in test; WALS and EASE with their "
          "defaults; every test user scored (± one standard error over users); "
          f"{time.perf_counter() - seconds:.0f} s in all.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
