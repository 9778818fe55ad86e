"""The Recommend page explains each move truthfully (issue 20.8): an item the fairness rule
promoted says it was promoted for the long-tail group, by as many places as its "move" says, and
why its final score is low; with a genre excluded, items moved up by the exclusion name the genre
filter instead of "moved by: none" (AppTest, a small WALS run on the demo catalogue)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from recsys_core.data.demo import make_demo_dataset
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import WALS
from recsys_core.runs.store import RunStore

APP = str(Path(__file__).resolve().parents[2] / "app.py")
RUN = "wals-explained"


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    dataset = make_demo_dataset(seed=0)
    split = holdout_split(dataset, 0.2, seed=0)
    root = tmp_path_factory.mktemp("runs")
    RunStore(root).save(WALS(factors=8, iterations=3).fit(split.train), dataset, name=RUN,
                        split=split)
    return root


def _recommend(runs_dir, monkeypatch, **query) -> "object":
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(runs_dir))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in {"data": "demo", "run": RUN, "user": "1", **query}.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("pages/5_Recommend.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return next(d.value for d in at.dataframe
                if {"rank", "title", "move", "moved by", "why"} <= set(d.value.columns))


def test_promoted_items_say_they_were_promoted_for_the_group_and_why_they_score_low(
        runs_dir, monkeypatch):
    listed = _recommend(runs_dir, monkeypatch, rr_fair="long-tail", rr_share="0.6")
    promoted = listed[listed["moved by"] == "fairness"]
    assert len(promoted) >= 2, listed[["title", "move", "moved by"]]
    for move, why in zip(promoted["move"], promoted["why"]):
        found = re.match(r"promoted for the long-tail group \(at least 60% of the list\): "
                         r"up (\d+) places? \(rank \d+ by base score\); its final score "
                         r"[\d.]+ is low because its base score", why)
        assert found, why
        assert move == f"↑{found.group(1)}"  # the same rise in both columns
    others = listed[listed["moved by"] != "fairness"]
    assert (others["why"] == "").all() == (others["moved by"] == "none").all()


def test_items_moved_by_an_excluded_genre_name_the_filter(runs_dir, monkeypatch):
    listed = _recommend(runs_dir, monkeypatch, rr_genres="Drama")
    moved = listed[listed["move"] != "="]
    assert len(moved), listed[["title", "move", "moved by"]]
    assert (moved["moved by"] == "genre filter").all()
    assert moved["why"].str.contains(r"removed by the genre filter \(excluded: Drama\)").all()
