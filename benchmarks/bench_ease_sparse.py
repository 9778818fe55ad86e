"""EASE's sparse weights (issue 20.6): how much of B a run must keep to rank as the dense B does.

For each catalogue and seed (the protocol's per-user 80/20 test split,
catalogues.protocol_splits(dataset, seed)[0]), EASE with regularization 300 is fitted twice:
with every weight (``weights_per_item=None``, the dense B of the paper) and with the default
(``EASE().weights_per_item`` largest weights per item, sparse). Printed per fit: the seconds of
each fit stage (as the progress callback reports them), the run's size on disk, the seconds to
save it through the run store and to load it back, and whether the loaded model recommends
the same top-10 lists. Then NDCG@10 over the test users for the dense B and for B cut to other
numbers of weights per item (``--levels``; cut from the dense float32 B with
``recsys_core.models.ease.largest_weights``, as the fit cuts its float64 B), with the paired
per-user difference to the dense B and its standard error.

    RECSYS_DATA_DIR=/work/realdata python benchmarks/bench_ease_sparse.py
        [--catalogues ml-100k ml-latest-small] [--seeds 0 1] [--levels 100 300 500 1000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys_core.data.dataset import as_interaction_matrix  # noqa: E402
from recsys_core.evaluation.metrics import ranking_metrics_per_user  # noqa: E402
from recsys_core.models import EASE  # noqa: E402
from recsys_core.models.ease import largest_weights  # noqa: E402
from recsys_core.runs.store import RunStore, load_run  # noqa: E402
from catalogues import load_catalogue, protocol_splits  # noqa: E402  (this folder is on the path)

K = 10


def per_user_ndcg(model, test) -> np.ndarray:
    """NDCG@10 of every test user with a held-out item (seen items excluded)."""
    held_out = as_interaction_matrix(test)[0]
    users = np.flatnonzero(np.diff(held_out.indptr) > 0)
    lists, _ = model.recommend(users, K)
    return ranking_metrics_per_user(lists, held_out[users], K)[f"ndcg@{K}"]


def timed_fit(model, train) -> tuple[object, dict]:
    """The fitted model and the seconds of each stage (from the progress callback)."""
    marks = []
    start = time.perf_counter()
    model.fit(train, callback=lambda p: marks.append((p.stage or "objective", p.elapsed)))
    total = time.perf_counter() - start
    stages = {}
    for (name, began), (_, ended) in zip(marks, marks[1:] + [("end", total)]):
        stages[name] = ended - began
    stages["fit"] = total
    return model, stages


def saved(model, dataset, split, folder: Path) -> dict:
    """Size of the run on disk (MB), seconds to save and to load it, same top-10 lists."""
    start = time.perf_counter()
    info = RunStore(folder).save(model, dataset, split=split)
    save_s = time.perf_counter() - start
    size = sum(f.stat().st_size for f in info.path.iterdir()) / 1e6
    start = time.perf_counter()
    loaded = load_run(info.path).model
    load_s = time.perf_counter() - start
    users = np.arange(model.n_users_)
    same = bool(np.array_equal(loaded.recommend(users, K)[0], model.recommend(users, K)[0]))
    return {"MB": size, "save s": save_s, "load s": load_s, "same lists": same}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalogues", nargs="+", default=["ml-100k", "ml-latest-small"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--levels", nargs="+", type=int, default=[100, 300, 500, 1000])
    args = parser.parse_args()
    default = EASE().weights_per_item
    for name in args.catalogues:
        dataset = load_catalogue(name)
        print(f"\n{name}: {dataset.n_users:,} users x {dataset.n_items:,} items, "
              f"{dataset.n_ratings:,} ratings", flush=True)
        for seed in args.seeds:
            split, _ = protocol_splits(dataset, seed)
            with tempfile.TemporaryDirectory() as folder:
                for label, params in (("dense B", {"weights_per_item": None}),
                                      (f"default ({default} per item)", {})):
                    model, stages = timed_fit(EASE(**params), split.train)
                    disk = saved(model, dataset, split, Path(folder))
                    kept = getattr(model.item_weights_, "nnz", model.item_weights_.size)
                    print(f"  seed {seed}, {label}: " + ", ".join(
                        f"{k} {v:.1f} s" for k, v in stages.items())
                        + f"; {kept:,} weights; run {disk['MB']:.1f} MB, saved in "
                          f"{disk['save s']:.1f} s, loaded in {disk['load s']:.1f} s, same "
                          f"top-{K} lists after loading: {disk['same lists']}", flush=True)
                    if params:  # the dense B: the reference of the cuts below
                        dense = model
            base = per_user_ndcg(dense, split.test)
            print(f"    NDCG@{K} dense B {base.mean():.4f} (se {base.std() / np.sqrt(len(base)):.4f}"
                  f", {len(base)} users)")
            weights = dense.item_weights_.astype(np.float64)
            for level in args.levels:
                if level * dense.n_items_ >= weights.size:
                    continue
                cut = EASE(weights_per_item=level)
                for attribute in ("n_users_", "n_items_", "seen_", "user_history_"):
                    setattr(cut, attribute, getattr(dense, attribute))
                cut.item_weights_ = largest_weights(weights, level * dense.n_items_)
                values = per_user_ndcg(cut, split.test)
                diff = values - base
                print(f"    {level:>5} per item ({cut.item_weights_.nnz / weights.size:6.1%} of B):"
                      f" NDCG@{K} {values.mean():.4f}, minus dense {diff.mean():+.4f} "
                      f"(paired se {diff.std() / np.sqrt(len(diff)):.4f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
