"""The Recommend page explains each move truthfully (issue 20.8): an item the fairness rule
promoted says it was promoted for the long-tail group, by as many places as its "move" says,
which prefix needed it and why its final score is low; a share the catalogue cannot meet in
every prefix is a warning saying how many prefixes fall short (issue 21.4); with a genre
excluded, items moved up by the exclusion name the genre filter instead of "moved by: none"
(AppTest, a small WALS run on the demo catalogue)."""
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


def _recommend_app(runs_dir, monkeypatch, **query) -> AppTest:
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(runs_dir))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in {"data": "demo", "run": RUN, "user": "1", **query}.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("pages/5_Recommend.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _listed(at: AppTest):
    return next(d.value for d in at.dataframe
                if {"rank", "title", "move", "moved by", "why"} <= set(d.value.columns))


def _recommend(runs_dir, monkeypatch, **query) -> "object":
    return _listed(_recommend_app(runs_dir, monkeypatch, **query))


def test_promoted_items_say_they_were_promoted_for_the_group_and_why_they_score_low(
        runs_dir, monkeypatch):
    listed = _recommend(runs_dir, monkeypatch, rr_fair="long-tail", rr_share="0.6")
    promoted = listed[listed["moved by"] == "fairness"]
    assert len(promoted) >= 2, listed[["title", "move", "moved by"]]
    for rank, move, why in zip(promoted["rank"], promoted["move"], promoted["why"]):
        found = re.match(r"promoted for the long-tail group: up (\d+) places? \(rank \d+ by "
                         r"base score\) to keep long-tail items at 60% of every prefix \(the "
                         r"top (\d+) must hold (\d+)\); its final score [\d.]+ is low because "
                         r"its base score", why)
        assert found, why
        assert move == f"↑{found.group(1)}"  # the same rise in both columns
        # It sits at the lowest rank its prefix allows: the top (its rank) needs it.
        assert int(found.group(2)) == rank and int(found.group(3)) >= int(0.6 * rank)
    others = listed[listed["moved by"] != "fairness"]
    assert (others["why"] == "").all() == (others["moved by"] == "none").all()


def test_items_moved_by_an_excluded_genre_name_the_filter(runs_dir, monkeypatch):
    listed = _recommend(runs_dir, monkeypatch, rr_genres="Drama")
    moved = listed[listed["move"] != "="]
    assert len(moved), listed[["title", "move", "moved by"]]
    assert (moved["moved by"] == "genre filter").all()
    assert moved["why"].str.contains(r"removed by the genre filter \(excluded: Drama\)").all()


def test_a_share_the_catalogue_cannot_meet_says_how_many_prefixes_fall_short(runs_dir,
                                                                               monkeypatch):
    """Drama exposed while Drama is excluded: no candidate belongs to the group, so every
    prefix that needs one falls short, and the page says how many, as a warning."""
    at = _recommend_app(runs_dir, monkeypatch, rr_fair="Drama", rr_share="0.3",
                        rr_genres="Drama")
    listed = _listed(at)
    assert len(listed) == 10 and (listed["moved by"] != "fairness").all()
    warnings = [w.value for w in at.warning if "Drama" in w.value]
    # floor(0.3 n) is 1 or more from the top 4 on: the top 4 ... the top 10 fall short.
    assert warnings == ["Share of the list from **Drama**: 0% (target: at least 30% of every "
                        "prefix, 3 of the top 10) — 7 of the 10 prefixes (top 1 to top 10) "
                        "fall short: the catalogue has too few Drama items that pass the "
                        "filters."], warnings


def test_a_met_share_is_a_caption(runs_dir, monkeypatch):
    at = _recommend_app(runs_dir, monkeypatch, rr_fair="long-tail", rr_share="0.3")
    assert not [w.value for w in at.warning if "long-tail" in w.value]
    assert any(c.value.startswith("Share of the list from **long-tail**: ")
               and "(target: at least 30% of every prefix, 3 of the top 10)." in c.value
               for c in at.caption), [c.value for c in at.caption]
