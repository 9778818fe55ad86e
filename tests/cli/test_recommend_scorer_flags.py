"""``recommend``'s re-ranking flags take their defaults from RerankConfig, and ``--scorer`` serves
through the same scoring stage as the Recommend page."""
import dataclasses
import io

import numpy as np
import pandas as pd
import pytest

from recsys_core.cli import build_parser, main
from recsys_core.cli.models import _RERANK_FIELDS_WITHOUT_FLAG, _RERANK_FLAGS, _rerank_config
from recsys_core.data.demo import make_demo_dataset
from recsys_core.runs.store import load_run
from recsys_core.serving.rerank import RerankConfig


def _recommend_parser():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command" or hasattr(a, "choices")
               and isinstance(a.choices, dict) and "recommend" in a.choices)
    return parser, sub.choices["recommend"]


def test_rerank_flag_defaults_are_rerank_config_defaults():
    _, recommend = _recommend_parser()
    defaults = {f.name: f.default for f in dataclasses.fields(RerankConfig)}
    flags = {a.dest: a for a in recommend._actions}
    # Every knob of RerankConfig is a flag, or deliberately not one.
    assert set(defaults) == set(_RERANK_FLAGS) | set(_RERANK_FIELDS_WITHOUT_FLAG)
    for name in _RERANK_FLAGS:
        assert flags[name].default == defaults[name], name
    args = build_parser().parse_args(["recommend", "--run", "r"])
    assert _rerank_config(args) == RerankConfig() and _rerank_config(args).is_neutral
    args = build_parser().parse_args(["recommend", "--run", "r", "--min-ratings", "3",
                                      "--diversity-similarity", "embedding"])
    assert _rerank_config(args) == RerankConfig(min_ratings=3, diversity_similarity="embedding")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A WALS run trained with a holdout (and one without) on the demo catalogue as CSV files."""
    folder = tmp_path_factory.mktemp("scorer-data")
    data = make_demo_dataset(seed=0, n_users=400, n_items=120)
    r = data.ratings.tocoo()
    ratings = folder / "ratings.csv"
    pd.DataFrame({"user": data.user_ids[r.row], "item": data.item_ids[r.col], "rating": r.data,
                  "timestamp": data.timestamps}).to_csv(ratings, index=False)
    out = {}
    for name, holdout in (("held", "0.2"), ("all", "0")):
        out[name] = folder / name
        assert main(["train", "--data", str(ratings), "--model", "wals", "--set", "factors=8",
                     "--set", "iterations=3", "--out", str(out[name]), "--holdout", holdout]) == 0
    users = folder / "users.txt"
    users.write_text("1\n2\n3\n")
    out["users"] = users
    return out


def test_scorer_ranks_the_pool_of_several_generators(runs, capsys):
    capsys.readouterr()
    assert main(["recommend", "--run", str(runs["held"]), "--k", "5", "--users",
                 str(runs["users"]), "--scorer", "--explain"]) == 0
    captured = capsys.readouterr()
    frame = pd.read_csv(io.StringIO(captured.out))
    assert "scoring model (" in captured.err and "wals score only AUC" in captured.err
    assert len(frame) == 15 and frame.groupby("user").size().eq(5).all()
    assert frame["score"].between(0, 1).all()  # the scorer's P(positive)
    assert frame.groupby("user")["score"].apply(lambda s: s.is_monotonic_decreasing).all()
    nominators = set("+".join(frame["nominated_by"]).replace(" ", "").split("+"))
    assert nominators <= {"wals", "popularity", "trending"} and len(nominators) >= 2
    run = load_run(runs["held"])
    for user, items in frame.groupby("user")["item"]:
        u = int(np.flatnonzero(run.user_ids == user)[0])
        i = np.searchsorted(run.item_ids, items.to_numpy())
        assert not np.isin(i, run.model.seen_[u].indices).any()


def test_scorer_needs_a_holdout_and_no_measure(runs, capsys):
    assert main(["recommend", "--run", str(runs["all"]), "--scorer"]) == 2
    assert "--holdout" in capsys.readouterr().err
    assert main(["recommend", "--run", str(runs["held"]), "--scorer", "--measure", "dot"]) == 2
    assert "similarity measure" in capsys.readouterr().err
