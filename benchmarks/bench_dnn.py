"""Quality and speed of the softmax DNN and two-tower models next to WALS and popularity.

Run:  RECSYS_DATA_DIR=../shared/data python benchmarks/bench_dnn.py

What it measures, on MovieLens 100K from $RECSYS_DATA_DIR (any rating counts as an interaction):
1. Recall@20 / NDCG@10 on the per-user 80/20 holdout (``holdout_split(dataset, 0.2, seed=0)``)
   of popularity, WALS, the softmax model (full softmax, and sampled softmax with in-batch,
   popularity (log-Q corrected), uniform and hard negatives) and the two-tower model,
   all with their default hyperparameters (tuned on a validation split carved from train), plus
   seconds per epoch and seconds to the fitted model.
2. Cold items: 10% of the items (seed 0) lose every training interaction; each user's held-out
   interactions with them are ranked among the cold items only. Two-tower embeds them from
   their features; WALS gets the course's genre-average heuristic.
3. Folding on the demo catalogue (planted taste clusters): positives-only training versus
   sampled negatives, with :func:`~recsys_core.evaluation.diagnostics.folding_diagnostic`.
4. The same speed measures on the demo catalogue (3000 users x 1500 items).
Single process, BLAS limited to one thread inside the models' fits; timings are wall-clock on
whatever the machine is doing, so compare ratios within one run.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys_core.data import load_movielens_100k  # noqa: E402
from recsys_core.data.demo import make_demo_dataset  # noqa: E402
from recsys_core.evaluation.metrics import evaluate_model, ranking_metrics  # noqa: E402
from recsys_core.evaluation.split import holdout_split  # noqa: E402
from recsys_core.models import WALS, Popularity, SoftmaxModel, TwoTowerModel  # noqa: E402
from recsys_core.evaluation.diagnostics import folding_diagnostic  # noqa: E402
from recsys_core.retrieval.topk import top_k  # noqa: E402

try:
    from recsys_core.models.cold_start import genre_average_embeddings
except ImportError:  # the WALS helper's module; the same heuristic inline if it is absent
    def genre_average_embeddings(item_embeddings, item_genres, known_mask):
        emb = np.array(item_embeddings, dtype=np.float32)
        genres = np.asarray(item_genres, bool)
        known = np.asarray(known_mask, bool)
        fallback = emb[known].mean(axis=0)
        for item in np.flatnonzero(~known):
            donors = known & (genres[:, genres[item]].any(axis=1))
            emb[item] = emb[donors].mean(axis=0) if donors.any() else fallback
        return emb, ~known


def timed_fit(model, data):
    """Wall-clock seconds, wall seconds per epoch, epochs and CPU seconds of one fit.

    CPU seconds (this process only) are what the fit would take on an idle core, since the models
    run BLAS on one thread; wall-clock includes waiting for a shared, busy machine.
    """
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(data)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    epochs = len(getattr(model, "history_", []) or [None])
    return seconds, seconds / max(epochs, 1), epochs, cpu


def accuracy(model, test) -> tuple[float, float]:
    r20 = evaluate_model(model, test, k=20, beyond_accuracy=False)["recall@20"]
    n10 = evaluate_model(model, test, k=10, beyond_accuracy=False)["ndcg@10"]
    return r20, n10


def quality_table(dataset):
    split = holdout_split(dataset, 0.2, seed=0)
    train, test = split.train.with_ratings(split.train.implicit), split.test
    models = {
        "popularity": Popularity(),
        "WALS (defaults)": WALS(),
        "softmax, full": SoftmaxModel(loss="full"),
        "softmax, sampled (in-batch)": SoftmaxModel(loss="sampled", negatives="in-batch"),
        "softmax, sampled (popularity)": SoftmaxModel(loss="sampled", negatives="popularity"),
        "softmax, sampled (uniform)": SoftmaxModel(loss="sampled", negatives="uniform"),
        "softmax, sampled (hard)": SoftmaxModel(loss="sampled", negatives="hard"),
        "two-tower (defaults)": TwoTowerModel(),
    }
    rows = []
    for name, model in models.items():
        seconds, per_epoch, epochs, _ = timed_fit(model, train)
        r20, n10 = accuracy(model, test)
        rows.append((name, r20, n10, epochs, per_epoch, seconds))
    return rows, train, test


def cold_item_table(dataset, fraction=0.1, seed=0):
    split = holdout_split(dataset, 0.2, seed=0)
    train = split.train.with_ratings(split.train.implicit)
    rng = np.random.default_rng(seed)
    candidates = np.flatnonzero(dataset.item_popularity >= 5)
    cold = np.zeros(dataset.n_items, bool)
    cold[rng.choice(candidates, int(fraction * len(candidates)), replace=False)] = True
    warm_train = train.select_entries(~cold[train.ratings.indices])
    # Relevant: every interaction (train or test) that a user had with a cold item.
    full = dataset.implicit
    relevant = full.multiply(cold[None, :].astype(np.float32)).tocsr()
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)
    relevant = relevant[users]

    def rank_cold(user_vectors, item_vectors):
        scores = user_vectors[users] @ item_vectors.T
        idx, _ = top_k(scores, 20, exclude=np.broadcast_to(~cold, scores.shape))
        return ranking_metrics(idx, relevant, 20)["recall@20"], ranking_metrics(
            idx[:, :10], relevant, 10)["ndcg@10"]

    rows = []
    wals = WALS().fit(warm_train)
    imputed, _ = genre_average_embeddings(wals.item_embeddings_, dataset.item_genres, ~cold)
    rows.append(("WALS + genre-average heuristic", *rank_cold(wals.user_embeddings_, imputed)))
    tower = TwoTowerModel().fit(warm_train)
    rows.append(("two-tower (item features)", *rank_cold(tower.user_embeddings_,
                                                        tower.item_embeddings_)))
    random_vectors = np.random.default_rng(1).standard_normal(wals.item_embeddings_.shape)
    rows.append(("random ranking", *rank_cold(wals.user_embeddings_, random_vectors)))
    return rows, int(cold.sum()), len(users)


def folding_table(demo):
    groups = demo.items["cluster"].to_numpy()
    user_groups = demo.users["cluster"].to_numpy()
    split = holdout_split(demo, 0.2, seed=0)
    train = split.train.with_ratings(split.train.implicit)
    rows = []
    for name, model in [("positives only", SoftmaxModel(loss="positives-only")),
                        ("sampled negatives (in-batch)", SoftmaxModel(loss="sampled",
                                                                      negatives="in-batch")),
                        ("full softmax", SoftmaxModel(loss="full"))]:
        model.fit(train)
        diag = folding_diagnostic(model, train, groups, user_groups=user_groups, k=10)
        r20, n10 = accuracy(model, split.test)
        rows.append((name, diag["own_group_share"], diag["neighbour_purity"], diag["chance"],
                     r20, n10))
    return rows


def speed_table(datasets):
    rows = []
    for label, data in datasets:
        train = data.with_ratings(data.implicit)
        for name, model in [("softmax full", SoftmaxModel(loss="full")),
                            ("softmax in-batch", SoftmaxModel(loss="sampled",
                                                              negatives="in-batch")),
                            ("two-tower", TwoTowerModel())]:
            seconds, per_epoch, epochs, cpu = timed_fit(model, train)
            rows.append((label, name, per_epoch, epochs, seconds, cpu / epochs, cpu))
    return rows


def main():
    root = os.environ.get("RECSYS_DATA_DIR")
    if not root:
        sys.exit("set RECSYS_DATA_DIR to the folder holding ml-100k/")
    ml = load_movielens_100k(Path(root) / "ml-100k")
    demo = make_demo_dataset(seed=0)

    print("== MovieLens 100K, per-user 80/20 holdout (seed 0), any rating = interaction ==")
    rows, _, _ = quality_table(ml)
    wals = next(r for r in rows if r[0].startswith("WALS"))
    print(f"{'model':32s} {'Recall@20':>9s} {'NDCG@10':>8s} {'R vs WALS':>9s} {'N vs WALS':>9s} "
          f"{'epochs':>6s} {'s/epoch':>8s} {'fit s':>6s}")
    for name, r20, n10, epochs, per_epoch, seconds in rows:
        print(f"{name:32s} {r20:9.4f} {n10:8.4f} {r20 / wals[1] - 1:+9.1%} "
              f"{n10 / wals[2] - 1:+9.1%} {epochs:6d} {per_epoch:8.3f} {seconds:6.1f}")

    print("\n== Cold items on MovieLens 100K (10% of items with >= 5 ratings lose all training "
          "interactions) ==")
    rows, n_cold, n_users = cold_item_table(ml)
    print(f"{n_cold} cold items, {n_users} users with at least one of them; ranked among cold "
          "items only")
    print(f"{'model':32s} {'Recall@20':>9s} {'NDCG@10':>8s}")
    for name, r20, n10 in rows:
        print(f"{name:32s} {r20:9.4f} {n10:8.4f}")

    print("\n== Folding on the demo catalogue (8 planted clusters), top-10 ==")
    print(f"{'training':32s} {'own-cluster share':>17s} {'neighbour purity':>16s} {'chance':>7s} "
          f"{'Recall@20':>9s} {'NDCG@10':>8s}")
    for name, own, purity, chance, r20, n10 in folding_table(demo):
        print(f"{name:32s} {own:17.3f} {purity:16.3f} {chance:7.3f} {r20:9.4f} {n10:8.4f}")

    print("\n== Speed (default epochs; one BLAS thread) ==")
    print(f"{'data':24s} {'model':18s} {'s/epoch':>8s} {'epochs':>6s} {'fit s':>6s} "
          f"{'cpu s/epoch':>11s} {'cpu fit s':>9s}")
    for label, name, per_epoch, epochs, seconds, cpu_epoch, cpu in speed_table(
            [("ml-100k (all ratings)", ml), ("demo 3000x1500", demo)]):
        print(f"{label:24s} {name:18s} {per_epoch:8.3f} {epochs:6d} {seconds:6.1f} "
              f"{cpu_epoch:11.3f} {cpu:9.1f}")


if __name__ == "__main__":
    main()
