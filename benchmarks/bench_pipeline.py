"""The serving pipeline on MovieLens 100K: scorer quality, re-ranking speed, and what each knob
costs and buys.

1. Scoring model vs ranking by any single generator's raw score. Temporal split (each user's last
   10 ratings held out); generators WALS, content-based, popularity and trending fitted on the
   rest; pools of 100 candidates per generator; the scorer is trained on 70% of the users and
   evaluated on the other 30%. AUC over all (user, candidate) rows, NDCG@10 within each pool.
   Built with ``fit_scoring_stage``, the entry point of the Recommend page and ``recommend
   --scorer``.
2. Latency: fitting the scoring stage as the Recommend page does (the run's model, 300 + 200
   users); for one user, re-ranking a 500-candidate pool with every knob on (filters, freshness,
   popularity penalty, MMR with a genre cap, fairness) and with neutral knobs; the full pipeline
   (``recommend_pipeline``: 4 generators -> pool -> scorer -> re-rank). Mean over users, in ms.
3. Metric impact of each knob (evaluate_rerank on the WALS model, 300 test users, k=10, the
   pipeline's pool size).

    RECSYS_DATA_DIR=../shared/data python benchmarks/bench_pipeline.py
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys_core.data import load_movielens_100k  # noqa: E402
from recsys_core.evaluation.split import leave_last_k_out  # noqa: E402
from recsys_core.models import WALS, ContentBased  # noqa: E402
from recsys_core.serving.pipeline import (RerankConfig, evaluate_rerank,  # noqa: E402
                                          fit_scoring_stage, pool_size, recommend_pipeline,
                                          rerank)

ALL_KNOBS = RerankConfig(hide_disliked=2, exclude_genres=("Horror",), min_ratings=3,
                         freshness_half_life=10.0, popularity_penalty=0.3, diversity=0.7,
                         max_per_genre=3, fair_group="long-tail", fair_share=0.3)


def main() -> None:
    root = os.environ.get("RECSYS_DATA_DIR")
    if not root:
        sys.exit("set RECSYS_DATA_DIR to the folder holding ml-100k/")
    data = load_movielens_100k(Path(root) / "ml-100k")
    split = leave_last_k_out(data, k=10)
    train, test = split.train, split.test
    t0 = time.perf_counter()
    wals = WALS(factors=64, iterations=10).fit(train)
    content = ContentBased().fit(train)
    print(f"generators fitted in {time.perf_counter() - t0:.1f} s")
    n_users = int((test.user_activity > 0).sum())
    n_fit = int(0.7 * n_users)  # 70% of the users with held-out ratings train, 30% evaluate

    print("\n## 1. Scoring model vs single generators (temporal split, held-out users)\n")
    for objective in ("rating>=4", "interaction"):
        t0 = time.perf_counter()
        stage = fit_scoring_stage([wals, content], split, train_users=n_fit,
                                  eval_users=n_users - n_fit, pool_per_generator=100,
                                  objective=objective)
        fit_s = time.perf_counter() - t0
        scorer = stage.scorer
        aucs = ", ".join(f"{k} {v:.4f}" for k, v in scorer.validation_auc_.items())
        print(f"objective {objective}: validation AUC {aucs} -> kept {scorer.classifier_} "
              f"(fit and comparison {fit_s:.1f} s)\n")
        print("| ranking | AUC | NDCG@10 |")
        print("|---|---|---|")
        for row in stage.comparison_table.to_dict("records"):
            print(f"| {row['ranking by']} | {row['auc']:.4f} | {row['ndcg@10']:.4f} |")
        print()

    print("## 2. Latency (mean over users, ms)\n")
    print("| step | time |")
    print("|---|---|")
    t0 = time.perf_counter()
    fit_scoring_stage(wals, split)
    print(f"| fit the Recommend page's scoring stage (WALS + popularity + trending, 300 + 200 "
          f"users) | {(time.perf_counter() - t0) * 1000:.0f} ms |")
    stage = fit_scoring_stage([wals, content], split, train_users=n_fit, eval_users=0,
                              pool_per_generator=100, classifier="gbdt")
    generators, scorer = stage.generators, stage.scorer
    sample = np.setdiff1d(np.flatnonzero(test.user_activity > 0), stage.fit_users)[:100]
    pools, pool_scores = wals.recommend(sample, 500)
    for name, config in (("neutral knobs", RerankConfig()), ("all knobs on", ALL_KNOBS)):
        rerank(pools[0], pool_scores[0], config, dataset=train, user=int(sample[0]),
               item_embeddings=wals.item_embeddings_)
        for with_table in (False, True):
            t0 = time.perf_counter()
            for row, user in enumerate(sample):
                result = rerank(pools[row], pool_scores[row], config, dataset=train,
                                user=int(user), k=10, item_embeddings=wals.item_embeddings_)
                if with_table:
                    result.table
            ms = (time.perf_counter() - t0) / len(sample) * 1000
            what = "list + explanation DataFrame" if with_table else "list + explanation arrays"
            print(f"| re-rank 500 candidates, {name}, {what} | {ms:.2f} ms |")
    for label, use_scorer in (("without scorer", None), ("with scorer", scorer)):
        recommend_pipeline(int(sample[0]), generators, train, config=ALL_KNOBS, scorer=use_scorer,
                           n_per_generator=125)
        t0 = time.perf_counter()
        sizes = []
        for user in sample[:50]:
            result = recommend_pipeline(int(user), generators, train, k=10, config=ALL_KNOBS,
                                        scorer=use_scorer, n_per_generator=125)
            sizes.append(len(result.pool))
        ms = (time.perf_counter() - t0) / 50 * 1000
        print(f"| full pipeline (4 generators x 125 -> pool of ~{np.mean(sizes):.0f}, {label}, "
              f"all knobs on) | {ms:.2f} ms |")
    t0 = time.perf_counter()
    for _ in range(200):
        import pandas as pd

        pd.DataFrame({"a": np.arange(10), "b": np.ones(10), "c": ["x"] * 10})
    print(f"| machine calibration: one 10-row pandas DataFrame | "
          f"{(time.perf_counter() - t0) / 200 * 1000:.2f} ms |")

    print(f"\n## 3. Metric impact of each knob (WALS, 300 test users, k=10, "
          f"{pool_size(10)} candidates: the pipeline's pool size)\n")
    knobs = {
        "neutral": RerankConfig(),
        "hide disliked <= 2": RerankConfig(hide_disliked=2),
        "freshness half-life 5 y": RerankConfig(freshness_half_life=5.0),
        "popularity penalty b=0.5": RerankConfig(popularity_penalty=0.5),
        "MMR lambda=0.5 (genre)": RerankConfig(diversity=0.5),
        "max 2 per genre": RerankConfig(max_per_genre=2),
        "long-tail share >= 0.3": RerankConfig(fair_group="long-tail", fair_share=0.3),
        "all knobs on": ALL_KNOBS,
    }
    keys = ("ndcg@10", "recall@10", "diversity_genre", "coverage", "novelty", "mean_popularity",
            "group_exposure")
    print("| config | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for name, config in knobs.items():
        out = evaluate_rerank(config, wals, split, users=300, k=10)
        print(f"| {name} | " + " | ".join(f"{out[k]:.4f}" for k in keys) + " |")


if __name__ == "__main__":
    main()
