"""Fairness at any catalogue size: a group short in the pool retrieves its own best candidates
(exact or approximate), merged with provenance, so its minimum share is met whenever the catalogue
holds enough eligible group items; the CLI warns only when it does not."""
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.cli import main
from recsys_core.data.demo import make_demo_dataset
from recsys_core.errors import HyperparameterError
from recsys_core.models import PrecomputedEmbeddings
from recsys_core.retrieval.ann import ANNIndex
from recsys_core.runs.store import RunStore, load_run
from recsys_core.serving.candidates import ModelGenerator, ScoreVectorGenerator, generate_candidates
from recsys_core.serving.pipeline import (RerankConfig, pool_size, recommend_for_run,
                                          recommend_pipeline, rerank_lists)
from recsys_core.serving.rerank import long_tail_mask

LONG_TAIL = RerankConfig(fair_group="long-tail", fair_share=0.3)


@pytest.fixture(scope="module")
def big():
    """10,000 items on a quarter circle, the more popular nearer angle 0, and users near angle 0:
    every user's top-200 pool is head items only (the first long-tail item is about the
    2,590th nearest) while 7,410 long-tail items exist. Unit vectors: dot = cosine, which
    approximate search finds exactly here."""
    data = make_demo_dataset(seed=0, n_users=300, n_items=10_000, mean_ratings_per_user=60)
    rank = np.empty(data.n_items)
    rank[np.argsort(-data.item_popularity, kind="stable")] = np.arange(data.n_items)
    theta = np.pi / 2 * rank / data.n_items
    phi = np.random.default_rng(0).uniform(0, 0.05, data.n_users)
    model = PrecomputedEmbeddings(np.column_stack([np.cos(phi), np.sin(phi)]),
                                  np.column_stack([np.cos(theta), np.sin(theta)])).fit(data)
    return data, model


def _check_fair_list(result, data, k=10, share=0.3):
    tail = long_tail_mask(data.item_popularity)
    t = result.table
    assert len(t) == k and tail[result.items].mean() >= share
    assert result.group_share >= share and result.group_target_reachable
    added = t[t["nominated_by"] == "long-tail retrieval"]
    assert len(added) == int(np.ceil(share * k)) and tail[added["item"]].all()
    assert np.all(np.diff(added["final_score"]) <= 0)  # score order
    # Every prefix holds floor(share n) group items; the group and the rest keep score order.
    counts = np.cumsum(tail[result.items])
    assert np.all(counts >= np.floor(share * np.arange(1, k + 1) + 1e-9))
    assert result.group_prefixes_short == 0
    for part in (t[t["in_group"]], t[~t["in_group"]]):
        assert np.all(np.diff(part["final_score"]) <= 0)
    pool = result.pool
    assert pool.group == "long-tail" and pool.from_group.sum() == k
    assert set(pool.items[pool.from_group]) >= set(added["item"])
    assert (pool.provenance()["generator"] == "long-tail retrieval").sum() == k


def test_precondition_the_pool_has_no_long_tail_item(big):
    data, model = big
    assert pool_size(10) == 200
    tail = long_tail_mask(data.item_popularity)
    assert tail.sum() == 7410
    for user in (0, 1, 2):
        pool = generate_candidates(user, [ModelGenerator(model)], 200,
                                   exclude=data.user_items(user))
        assert len(pool) == 200 and not tail[pool.items].any()


def test_group_retrieval_reaches_the_share_on_a_large_catalogue(big):
    data, model = big
    for user in (0, 1, 2):
        result = recommend_pipeline(user, model, data, k=10, config=LONG_TAIL)
        _check_fair_list(result, data)
        assert not np.isin(result.items, data.user_items(user)).any()
        # The group's own best eligible items: what an exact top-k over the group returns.
        tail = np.flatnonzero(long_tail_mask(data.item_popularity))
        tail = tail[~np.isin(tail, data.user_items(user))]
        best = tail[np.argsort(-model.score([user], tail)[0], kind="stable")[:10]]
        assert set(result.pool.items[result.pool.from_group]) == set(best)


def test_many_users_lists_for_the_metric_impact_retrieve_too(big):
    data, model = big
    users = np.arange(0, 300, 10)
    lists, results = rerank_lists(LONG_TAIL, model, data, users, k=10, n_candidates=100)
    tail = long_tail_mask(data.item_popularity)
    assert (lists >= 0).all() and tail[lists].mean(axis=1).min() >= 0.3
    assert all(r.group_target_reachable for r in results)
    plain, _ = rerank_lists(RerankConfig(), model, data, users, k=10, n_candidates=100)
    assert not tail[plain].any()


def test_new_user_and_approximate_retrieval(big):
    data, model = big
    rated = np.array([5, 50, 500])  # a folded-in user: no row of the data, scores given
    scores = model.score_embeddings(np.array([1.0, 0.02], np.float32))[0]
    result = recommend_pipeline(None, ScoreVectorGenerator(scores), data, k=10, config=LONG_TAIL,
                                seen=rated)
    _check_fair_list(result, data)
    with pytest.raises(HyperparameterError, match="ScoreVectorGenerator"):
        recommend_pipeline(None, model, data, k=10, config=LONG_TAIL, seen=rated)
    index = ANNIndex("dot").fit(model.item_embeddings_)
    generator = ModelGenerator(model, measure="dot", ann=index)
    result = recommend_pipeline(3, generator, data, k=10, config=LONG_TAIL)
    _check_fair_list(result, data)
    assert len(generator._member_indexes) == 1  # one index over the group, built once
    recommend_pipeline(4, generator, data, k=10, config=LONG_TAIL)
    assert len(generator._member_indexes) == 1


def test_no_retrieval_when_the_pool_suffices_and_unreachable_only_when_the_catalogue_lacks(big):
    data, model = big
    # Half the pool's items are Drama or Comedy: nothing to retrieve.
    for genre in ("Drama", "Comedy"):
        result = recommend_pipeline(0, model, data, k=10,
                                    config=RerankConfig(fair_group=genre, fair_share=0.3))
        assert result.pool.from_group is None and result.group_target_reachable
    # Excluding the group's genre leaves no eligible item anywhere: the only unreachable case.
    config = RerankConfig(fair_group="Drama", fair_share=0.3, exclude_genres=("Drama",))
    result = recommend_pipeline(0, model, data, k=10, config=config)
    assert result.group_target_reachable is False and result.group_share == 0
    assert result.pool.from_group is None  # nothing found, nothing marked
    # Long-tail items have at most 1 rating here: at least 2 leaves none, at least 1 leaves 2,874.
    result = recommend_pipeline(0, model, data, k=10, config=LONG_TAIL.replace(min_ratings=2))
    assert result.group_target_reachable is False and result.group_share == 0
    config = LONG_TAIL.replace(min_ratings=1, exclude_genres=("Horror",))
    result = recommend_pipeline(0, model, data, k=10, config=config)
    assert result.group_share >= 0.3 and result.group_target_reachable
    horror = data.genre_names.index("Horror")  # the retrieval respects the filters
    added = result.pool.items[result.pool.from_group]
    assert len(added) == 10 and not data.item_genres[added, horror].any()
    assert (data.item_popularity[added] >= 1).all()


def test_recommend_for_run_and_the_cli(big, tmp_path, capsys):
    data, model = big
    info = RunStore(tmp_path).save(model, data, name="big")
    run = load_run(info.path)
    frame = recommend_for_run(run, [0, 1], k=10, config=LONG_TAIL, explain=True)
    assert frame.groupby("user")["in_group"].mean().min() >= 0.3
    assert (frame["nominated_by"] == "long-tail retrieval").sum() == 6
    assert len(frame.attrs["group_target_unreachable"]) == 0

    users = tmp_path / "users.txt"
    users.write_text("1\n2\n")
    argv = ["recommend", "--run", str(info.path), "--k", "10", "--users", str(users)]
    assert main(argv + ["--fair-group", "long-tail", "--fair-share", "0.3"]) == 0
    captured = capsys.readouterr()
    out = pd.read_csv(io.StringIO(captured.out))
    tail = long_tail_mask(data.item_popularity)
    for _, items in out.groupby("user")["item"]:
        assert len(items) == 10 and tail[data.item_indices(items.tolist())].mean() >= 0.3
    assert "warning" not in captured.err
    assert main(argv + ["--fair-group", "long-tail", "--fair-share", "0.3", "--explain"]) == 0
    out = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert (out["nominated_by"] == "long-tail retrieval").sum() == 6
    assert main(argv + ["--fair-group", "Drama", "--fair-share", "0.3",
                        "--exclude-genres", "Drama"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "too few Drama items" in err and "2 user(s)" in err


def test_recommend_page_meets_the_share_and_shows_the_provenance(big, tmp_path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    import ui.data

    data, model = big
    RunStore(tmp_path).save(model, data, name="big")
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")
    monkeypatch.setattr(ui.data, "make_demo_dataset", lambda seed=0: data)  # the 10k catalogue
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"),
                               default_timeout=120)
        for key, value in {"data": "demo", "run": "big", "user": "1", "rr_fair": "long-tail",
                           "rr_share": "0.3"}.items():
            at.query_params[key] = value
        at.run()
        at.switch_page("pages/5_Recommend.py").run()
        assert not at.exception, [e.value for e in at.exception]
        listed = next(d.value for d in at.dataframe
                      if {"rank", "title", "moved by"} <= set(d.value.columns))
        added = listed[listed["nominated by"] == "long-tail retrieval"]
        assert len(listed) == 10 and len(added) == 3
        assert added["moved by"].eq("fairness").all() and np.all(np.diff(added["final"]) <= 0)
        assert not [w.value for w in at.warning if "share" in w.value.lower()
                    or "long-tail" in w.value]
        assert any("long-tail" in c.value and "30%" in c.value for c in at.caption)
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()
