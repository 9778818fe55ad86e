"""The Compare runs page compares honestly (issue 21.2, 21.5) on MovieLens 100K: each run against a
reference run user by user with a 95% interval and a verdict in words, a run on another split
listed with the reason instead, breakdowns by user activity and item popularity, beyond-accuracy
measures with intervals, and a seeds control that trains new runs without replacing any."""
from __future__ import annotations

import json
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from recsys_core.evaluation.metrics import evaluate_sample
from recsys_core.evaluation.split import make_split
from recsys_core.models import MODEL_REGISTRY
from recsys_core.runs.store import RunStore

from .conftest import APP

HOLDOUT = {"method": "holdout", "test_fraction": 0.2, "seed": 0}
LAST = {"method": "leave_last_k_out", "k": 1}


def _save(store: RunStore, dataset, name: str, kind: str, split, **params):
    model = MODEL_REGISTRY[kind](**params).fit(split.train)
    return store.save(model, dataset, name=name, split=split,
                      metrics=evaluate_sample(model, split.test, k=10))


@pytest.fixture(scope="module")
def ml_runs(ml100k, tmp_path_factory):
    """A small WALS, the popularity baseline (clearly worse), a byte copy of the WALS run, and a
    WALS run on another split (each user's last rating held out)."""
    root = tmp_path_factory.mktemp("compare-runs")
    store = RunStore(root)
    holdout = make_split(ml100k, HOLDOUT)
    _save(store, ml100k, "wals-a", "wals", holdout, factors=8, iterations=3)
    _save(store, ml100k, "pop", "popularity", holdout)
    shutil.copytree(root / "wals-a", root / "wals-copy")
    _save(store, ml100k, "wals-last", "wals", make_split(ml100k, LAST), factors=8, iterations=3)
    return root


@pytest.fixture
def store_dir(ml_runs, tmp_path, data_dir, monkeypatch):
    """A private copy of the module's runs (a test may add runs to it)."""
    root = tmp_path / "runs"
    shutil.copytree(ml_runs, root)
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(root))
    monkeypatch.setenv("RECSYS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")
    return root


def _open(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update({"data": "ml-100k", **query})
    at.run()
    at.switch_page("pages/6_Compare_runs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _html(at: AppTest, containing: str) -> str:
    """The page's first SVG chart (drawn by st.markdown) containing ``containing``."""
    found = [m.value for m in at.markdown if "<svg" in m.value and containing in m.value]
    assert found, f"no chart with {containing!r}"
    return found[0]


def _by_key(at: AppTest, *columns: str):
    return [d.value for d in at.dataframe if set(columns) <= set(d.value.columns)]


def test_a_worse_run_is_significantly_worse_and_a_copy_is_not_distinguishable(store_dir):
    at = _open(cmp="wals-a,pop,wals-copy", cmp_metrics="ndcg@10,recall@10")
    diffs = _by_key(at, "run", "metric", "difference", "95% interval", "p-value", "verdict")[0]
    rows = diffs.set_index(["run", "metric"])
    # The reference is the best by NDCG@10 (wals-a, ahead of its copy by order).
    assert set(diffs["run"]) == {"pop", "wals-copy"}
    worse = rows.loc[("pop", "ndcg@10")]
    assert worse["result"] == "worse" and worse["difference"] < 0
    assert worse["verdict"].startswith("worse by")  # than the reference, wals-a
    assert worse["p-value"] == "< 0.0001"
    same = rows.loc[("wals-copy", "ndcg@10")]
    assert same["difference"] == 0 and same["result"] == "not distinguishable"
    assert same["verdict"] == "the same for every user"
    assert int(same["users"]) == 943
    # The forest plot: one panel per metric, a dot with its interval per run, a line at 0.
    forest = _html(at, "ndcg@10: run − wals-a")
    assert "recall@10: run − wals-a" in forest and "stroke-dasharray" in forest
    assert forest.count("<circle") == 4  # 2 runs x 2 metrics
    # The newcomer's three sentences.
    text = " ".join(m.value for m in at.markdown)
    assert "95%" in text and "user by user" in text and "not distinguishable" in text


def test_a_run_on_another_split_is_listed_with_the_reason_not_compared(store_dir):
    at = _open(cmp="wals-a,wals-last,pop")
    diffs = _by_key(at, "run", "metric", "difference", "verdict")[0]
    assert "wals-last" not in set(diffs["run"])
    notes = [w.value for w in at.warning if "wals-last" in w.value]
    assert notes and "most recent rating" in notes[0] and "random 20%" in notes[0], notes


def test_breakdowns_and_beyond_accuracy_have_intervals(store_dir):
    at = _open(cmp="wals-a,pop", cmp_metrics="ndcg@10")  # the "One pair" tab by default
    activity, popularity = _by_key(at, "metric", "group", "difference", "95% interval")[:2]
    assert [g.split(" ")[0] for g in activity["group"]] == ["cold", "light", "heavy"]
    assert set(activity["metric"]) == {"ndcg@10"}
    assert list(popularity["group"]) == ["head", "long tail"]
    assert (activity["difference"] < 0).all()  # popularity trails WALS for every activity group
    assert "per user" in _html(at, "ndcg@10: pop − wals-a")  # the per-user histogram
    at = _open(cmp="wals-a,pop", cmp_metrics="ndcg@10", cmp_view="Beyond accuracy")
    values = _by_key(at, "run", "coverage", "novelty", "diversity_genre", "gini")[0]
    values = values.set_index("run")
    assert values.loc["pop", "coverage"] < values.loc["wals-a", "coverage"]
    assert values.loc["pop", "gini"] > values.loc["wals-a", "gini"]  # exposure on the head
    diffs = _by_key(at, "run", "metric", "difference", "95% interval", "test")
    beyond = diffs[1].set_index("metric")  # after the accuracy table
    assert set(beyond.index) == {"coverage", "novelty", "diversity_genre", "gini"}
    assert beyond.loc["coverage", "test"] == "paired bootstrap"
    assert beyond.loc["coverage", "result"] == "worse" and beyond.loc["gini", "result"] == "worse"


def test_seeds_control_trains_new_runs_and_replaces_none(store_dir):
    # A run already holds the first seed's name: it must stay as it is.
    shutil.copytree(store_dir / "pop", store_dir / "wals-a-seed1")
    decoy = (store_dir / "wals-a-seed1" / "run.json").read_bytes()
    at = _open(cmp="wals-a,pop", cmp_seed_run="wals-a", cmp_seeds_n="2", cmp_view="Seeds")
    assert "deterministic" not in " ".join(i.value for i in at.info)
    at.button(key="cmp_seed_train").click().run(timeout=300)
    assert not at.exception, [e.value for e in at.exception]
    names = sorted(p.name for p in store_dir.iterdir() if not p.name.startswith("."))
    assert names == ["pop", "wals-a", "wals-a-seed1", "wals-a-seed1-2", "wals-a-seed2",
                     "wals-copy", "wals-last"]
    assert (store_dir / "wals-a-seed1" / "run.json").read_bytes() == decoy
    seeds = {n: json.loads((store_dir / n / "run.json").read_text())["params"]["random_state"]
             for n in ("wals-a-seed1-2", "wals-a-seed2")}
    assert seeds == {"wals-a-seed1-2": 1, "wals-a-seed2": 2}
    assert any("seed 2: new run" in s.value for s in at.success)
    spread = _by_key(at, "metric", "std across seeds", "users: ±95% interval")[0]
    # wals-a (seed 0) and its two new seeds (the decoy is a popularity run: not a sibling).
    assert (spread["seeds"] == 3).all() and "ndcg@10" in set(spread["metric"])
    assert (spread["std across seeds"] > 0).all()


def test_a_deterministic_model_says_seeds_do_not_change_it(store_dir):
    at = _open(cmp="wals-a,pop", cmp_seed_run="pop", cmp_view="Seeds")
    assert any("deterministic" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "cmp_seed_train"]
