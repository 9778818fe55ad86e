"""Paired comparisons (issue 21): the paired t interval against hand computations and scipy,
identical inputs giving exactly 0, NaN users dropped pairwise, the bootstrap of the set-level
metrics, per-user values agreeing with the pooled evaluation, and refusals of incomparable runs."""
import math

import numpy as np
import pytest
from scipy import stats

from recsys_core.data.demo import make_demo_dataset
from recsys_core.errors import HyperparameterError, SplitMismatchError
from recsys_core.evaluation import metrics as M
from recsys_core.evaluation.compare import (PairedDifference, compare_runs,
                                            paired_bootstrap_set_metrics, paired_difference,
                                            per_user_metrics)
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import MODEL_REGISTRY
from recsys_core.runs.store import RunStore


# ---------------------------------------------------------------------------- paired t
def test_paired_t_interval_matches_a_hand_computation_and_ttest_rel():
    a = np.array([0.5, 0.7, 0.2, 0.9])
    b = np.array([0.4, 0.4, 0.3, 0.5])
    # d = (0.1, 0.3, -0.1, 0.4): mean 0.175, sd = sqrt(0.0475 * 4 / 3 ... ) by hand below.
    d = a - b
    mean = 0.175
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 3)
    half = 3.182446305284263 * sd / 2  # t_{3, 0.975} = 3.1824..., sqrt(4) = 2
    r = paired_difference(a, b, "ndcg@10")
    assert r.n_users == 4 and r.method == "paired t"
    assert r.diff == pytest.approx(mean) and r.mean_a == pytest.approx(0.575)
    assert r.mean_b == pytest.approx(0.4)
    assert (r.ci_low, r.ci_high) == pytest.approx((mean - half, mean + half))
    ref = stats.ttest_rel(a, b)
    assert r.p_value == pytest.approx(ref.pvalue)
    assert (r.ci_low, r.ci_high) == pytest.approx(tuple(ref.confidence_interval(0.95)))
    assert not r.significant and "not distinguishable on these 4 users" in r.verdict()
    narrow = paired_difference(a, b, confidence=0.5)
    assert narrow.ci_high - narrow.ci_low < r.ci_high - r.ci_low


def test_identical_values_give_exactly_zero_with_a_zero_width_interval():
    a = np.random.default_rng(0).random(50)
    r = paired_difference(a, a.copy(), "recall@10")
    assert (r.diff, r.ci_low, r.ci_high, r.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert not r.significant and "give the same recall@10" in r.verdict()


def test_nan_users_are_dropped_pairwise():
    a = np.array([0.5, np.nan, 0.2, 0.9, 0.1])
    b = np.array([0.4, 0.4, np.nan, 0.5, 0.3])
    r = paired_difference(a, b)
    ref = paired_difference([0.5, 0.9, 0.1], [0.4, 0.5, 0.3])
    assert r == ref and r.n_users == 3 and r.mean_b == pytest.approx(0.4)
    lonely = paired_difference([0.3, np.nan], [0.1, 0.2])
    assert lonely.n_users == 1 and lonely.diff == pytest.approx(0.2) and math.isnan(lonely.ci_low)
    with pytest.raises(ValueError, match="equal lengths"):
        paired_difference([1.0, 2.0], [1.0])


def test_verdict_direction_follows_the_metric():
    a = np.linspace(0.2, 0.4, 30)
    better = paired_difference(a + 0.1 + 0.01 * np.sin(np.arange(30)), a, "ndcg@10")
    assert better.significant and better.verdict("wals", "pop").startswith("wals is better by 0.1")
    # A lower error is better: A's RMSE is higher, so B wins, and the interval is shown positive.
    worse = paired_difference(a + 0.1 + 0.01 * np.sin(np.arange(30)), a, "rmse")
    text = worse.verdict("wals", "pop")
    assert text.startswith("pop is better by 0.1 [") and "in rmse" in text and "-" not in text
    assert "is higher by" in paired_difference(a + 1, a, "popularity_percentile").verdict()
    record = better.as_dict()
    assert record["significant"] is True and record["metric"] == "ndcg@10"
    assert set(record) >= {"mean_a", "mean_b", "diff", "ci_low", "ci_high", "p_value", "n_users",
                           "method", "verdict"}


# ---------------------------------------------------------------------------- set level
def test_gini_known_answers():
    assert M.gini_coefficient([5, 5, 5, 5]) == 0.0
    assert M.gini_coefficient([0, 0, 0, 8]) == pytest.approx(0.75)  # (n - 1) / n
    assert math.isnan(M.gini_coefficient([0, 0]))
    # Two lists over 4 items: item 0 shown twice, items 1 and 2 once, item 3 never; pads and
    # a repeat inside a list are not exposure.
    rec = np.array([[0, 1, 1], [0, 2, -1]])
    assert M.gini(rec, 4) == pytest.approx(M.gini_coefficient([2, 1, 1, 0]))
    assert M.gini_coefficient([2, 1, 1, 0]) == pytest.approx((-3 * 0 - 1 * 1 + 1 * 1 + 3 * 2) / 16)


def test_bootstrap_is_deterministic_and_paired():
    rng = np.random.default_rng(0)
    wide = rng.integers(0, 60, (150, 10))
    narrow = rng.integers(0, 12, (150, 10))
    first = paired_bootstrap_set_metrics(wide, narrow, 60, n_resamples=300)
    again = paired_bootstrap_set_metrics(wide, narrow, 60, n_resamples=300)
    assert first == again
    other_seed = paired_bootstrap_set_metrics(wide, narrow, 60, n_resamples=300, seed=1)
    assert other_seed["gini"].ci_low != first["gini"].ci_low
    cov, gini = first["coverage"], first["gini"]
    assert cov.method == "paired bootstrap" and cov.n_users == 150
    assert cov.mean_a == M.catalogue_coverage(wide, 60)
    assert cov.mean_b == M.catalogue_coverage(narrow, 60)
    assert gini.mean_a == pytest.approx(M.gini(wide, 60)) and gini.diff < 0 and gini.significant
    assert gini.ci_low <= gini.diff <= gini.ci_high
    assert gini.verdict().startswith("A is better by")
    same = paired_bootstrap_set_metrics(wide, wide.copy(), 60, n_resamples=300)
    for r in same.values():
        assert (r.diff, r.ci_low, r.ci_high, r.p_value) == (0.0, 0.0, 0.0, 1.0)


# ---------------------------------------------------------------------------- models and runs
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Demo catalogue; WALS and popularity runs on a seed-0 holdout, popularity on seed 1 and on
    everything."""
    data = make_demo_dataset(seed=0, n_users=300, n_items=150)
    split = holdout_split(data, 0.2, seed=0)
    other = holdout_split(data, 0.2, seed=1)
    store = RunStore(tmp_path_factory.mktemp("compare-runs"))
    wals = MODEL_REGISTRY["wals"](factors=8, iterations=3).fit(split.train)
    pop = MODEL_REGISTRY["popularity"](variant="mean-rating").fit(split.train)
    runs = {
        "wals": store.save(wals, data, name="wals", split=split),
        "pop": store.save(pop, data, name="pop", split=split),
        "pop-seed1": store.save(MODEL_REGISTRY["popularity"]().fit(other.train), data,
                                name="pop-seed1", split=other),
        "pop-all": store.save(MODEL_REGISTRY["popularity"]().fit(data), data, name="pop-all"),
    }
    return {"data": data, "split": split, "store": store,
            "runs": {name: store.load(info.name) for name, info in runs.items()}}


def test_per_user_values_average_to_the_pooled_metrics(saved):
    split, run = saved["split"], saved["runs"]["pop"]
    test = split.test.ratings
    users = np.flatnonzero(np.diff(test.indptr))
    values = per_user_metrics(run.model, test, users, 5, item_genres=split.test.item_genres)
    pooled = M.evaluate_model(run.model, split.test, 5, users=users)
    for name in ("ndcg@5", "recall@5", "precision@5", "map@5", "hit_rate@5", "novelty",
                 "popularity_percentile", "diversity_genre"):
        assert values[name].shape == users.shape
        assert np.nanmean(values[name]) == pytest.approx(pooled[name]), name
    # Per-user MAE weighs every user equally; weighted by test entries it is the pooled MAE.
    entries = np.diff(test.indptr)[users]
    assert np.average(values["mae"], weights=entries) == pytest.approx(pooled["mae"])
    # Per-user RMSE: each user's root mean squared error over their own test entries.
    u = users[3]
    row = test[u]
    errors = run.model.predict(np.full(row.nnz, u), row.indices) - row.data
    assert values["rmse"][3] == pytest.approx(np.sqrt(np.mean(errors ** 2)))
    implicit = per_user_metrics(saved["runs"]["wals"].model, test, users, 5)
    assert "rmse" not in implicit and "diversity_genre" not in implicit


def test_compare_runs_scores_both_on_the_same_users(saved):
    runs, split = saved["runs"], saved["split"]
    c = compare_runs(runs["wals"], runs["pop"], k=5, split=split)
    assert c.name_a == "wals" and c.k == 5
    assert np.array_equal(c.users, np.flatnonzero(np.diff(split.test.ratings.indptr)))
    assert set(c.differences) >= {"ndcg@5", "recall@5", "novelty", "coverage", "gini"}
    assert "rmse" not in c.differences  # WALS scores are not ratings
    assert all(isinstance(d, PairedDifference) for d in c.differences.values())
    assert c.differences["ndcg@5"].mean_a == pytest.approx(
        np.nanmean(c.per_user_a["ndcg@5"]))
    assert c.differences["coverage"].method == "paired bootstrap"
    assert set(c.user_activity) == {"cold", "light", "heavy"}
    counts = split.train.user_activity[c.users]
    assert counts[c.user_activity == "cold"].max() <= counts[c.user_activity == "heavy"].min()
    activity = c.breakdown("activity")
    assert set(activity["group"]) == {"cold", "light", "heavy"}
    assert activity.groupby("metric")["n_users"].sum()["ndcg@5"] == c.differences["ndcg@5"].n_users
    popularity = c.breakdown("popularity")
    assert list(popularity["group"]) == ["head", "long tail"]
    assert (popularity["metric"] == "recall@5").all()
    with pytest.raises(HyperparameterError, match="activity"):
        c.breakdown("genre")
    only = compare_runs(runs["wals"], runs["pop"], k=5, split=split, metrics=["ndcg@5"])
    assert list(only.differences) == ["ndcg@5"]
    with pytest.raises(HyperparameterError, match="rmse compares rating estimates, but the "
                                                  "scores of 'wals' only rank items"):
        compare_runs(runs["wals"], runs["pop"], k=5, split=split, metrics=["rmse"])
    errors = compare_runs(runs["pop"], runs["pop"], k=5, split=split, metrics=["rmse", "mae"])
    assert errors.differences["rmse"].diff == 0.0 and errors.differences["rmse"].n_users > 0
    with pytest.raises(HyperparameterError, match="unknown metric 'ndcg@7'"):
        compare_runs(runs["wals"], runs["pop"], k=5, split=split, metrics=["ndcg@7"])


def test_a_run_compared_with_itself_differs_by_exactly_zero(saved):
    c = compare_runs(saved["runs"]["pop"], saved["runs"]["pop"], split=saved["split"])
    for d in c.differences.values():
        assert (d.diff, d.ci_low, d.ci_high) == (0.0, 0.0, 0.0), d.metric


def test_incomparable_runs_are_refused_with_the_reason(saved):
    runs, split = saved["runs"], saved["split"]
    with pytest.raises(SplitMismatchError, match="'pop-all' .* trained on all its data"):
        compare_runs(runs["pop"], runs["pop-all"], split=split)
    with pytest.raises(SplitMismatchError, match=r"different train/test splits \(seed differs\)"):
        compare_runs(runs["pop"], runs["pop-seed1"], split=split)
    with pytest.raises(SplitMismatchError, match="is not the one run 'wals'"):
        compare_runs(runs["wals"], runs["pop"], split=holdout_split(saved["data"], 0.2, seed=1))
    assert issubclass(SplitMismatchError, HyperparameterError)


def test_runs_of_different_datasets_are_refused(saved, tmp_path):
    other = make_demo_dataset(seed=1, n_users=300, n_items=150)
    split = holdout_split(other, 0.2, seed=0)
    store = RunStore(tmp_path)
    store.save(MODEL_REGISTRY["popularity"]().fit(split.train), other, name="elsewhere",
               split=split)
    with pytest.raises(SplitMismatchError, match="different datasets"):
        compare_runs(saved["runs"]["pop"], store.load("elsewhere"), split=saved["split"])


def test_a_reference_compared_with_several_runs_is_scored_once(saved, monkeypatch):
    import recsys_core.evaluation.compare as compare_module

    runs, split = saved["runs"], saved["split"]
    scored = []
    real = compare_module._score
    monkeypatch.setattr(compare_module, "_score",
                        lambda model, *a, **kw: scored.append(model) or real(model, *a, **kw))
    monkeypatch.setattr(compare_module, "_SCORED", compare_module.weakref.WeakKeyDictionary())
    first = compare_runs(runs["wals"], runs["pop"], k=5, split=split)
    again = compare_runs(runs["pop"], runs["wals"], k=5, split=split)
    assert scored == [runs["wals"].model, runs["pop"].model]  # each model once
    assert again.differences["ndcg@5"].diff == -first.differences["ndcg@5"].diff
    compare_runs(runs["wals"], runs["pop"], k=6, split=split)  # another k: scored anew
    assert len(scored) == 4
