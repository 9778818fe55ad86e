"""The re-ranking options of `recommend` on saved runs."""
import io

import numpy as np
import pandas as pd
import pytest

from recsys_core.cli import main
from recsys_core.models import WALS, Popularity
from recsys_core.runs.store import RunStore, load_run
from recsys_core.serving.pipeline import RerankConfig, dataset_for_run, recommend_for_run


@pytest.fixture(scope="module")
def demo_run(demo, tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("runs"))
    info = store.save(WALS(factors=8, iterations=3).fit(demo), demo, name="wals-demo")
    return info.path


def _recommend(capsys, *argv) -> pd.DataFrame:
    assert main(["recommend", *map(str, argv)]) == 0
    return pd.read_csv(io.StringIO(capsys.readouterr().out))


def test_rerank_flags_and_explain(demo_run, demo, capsys):
    users = demo_run.parent / "users.txt"
    users.write_text("1\n2\n")
    plain = _recommend(capsys, "--run", demo_run, "--k", 5, "--users", users)
    same = _recommend(capsys, "--run", demo_run, "--k", 5, "--users", users, "--explain")
    assert same["item"].tolist() == plain["item"].tolist()
    assert {"base_score", "freshness", "popularity_penalty", "final_score", "moved_by",
            "original_rank"} <= set(same.columns)
    assert (same["moved_by"] == "none").all()
    out = _recommend(capsys, "--run", demo_run, "--k", 5, "--users", users,
                     "--measure", "tempered", "--alpha", 0.3, "--exclude-genres", "Drama,Comedy",
                     "--freshness-half-life", 5, "--popularity-penalty", 0.5,
                     "--diversity", 0.6, "--max-per-genre", 2, "--fair-group", "long-tail",
                     "--fair-share", 0.4, "--explain")
    assert len(out) == 10
    columns = [demo.genre_names.index("Drama"), demo.genre_names.index("Comedy")]
    genres = demo.item_genres[:, columns]
    assert not genres[demo.item_indices(out["item"].tolist())].any()
    run = load_run(demo_run)
    seen = run.model.seen_
    for user, items in out.groupby("user")["item"]:
        u = int(demo.user_indices([user])[0])
        assert not np.isin(demo.item_indices(items.tolist()), seen[u].indices).any()
        assert out.loc[out["user"] == user, "in_group"].mean() >= 0.4


def test_ann_retrieval_matches_exact_on_a_small_catalogue(demo_run, capsys):
    users = demo_run.parent / "some_users.txt"
    users.write_text("".join(f"{u}\n" for u in range(1, 61)))
    exact = _recommend(capsys, "--run", demo_run, "--k", 5, "--measure", "dot", "--users", users)
    approx = _recommend(capsys, "--run", demo_run, "--k", 5, "--ann", "--users", users)
    assert len(exact) == len(approx) == 300
    overlap = np.mean([len(set(a) & set(e)) / 5 for (_, a), (_, e) in
                       zip(approx.groupby("user")["item"], exact.groupby("user")["item"])])
    assert overlap >= 0.95


def test_errors_are_clear(demo_run, capsys):
    assert main(["recommend", "--run", str(demo_run), "--fair-share", "0.3"]) == 2
    assert "--fair-group" in capsys.readouterr().err
    assert main(["recommend", "--run", str(demo_run), "--exclude-genres", "Nope"]) == 2
    assert "unknown genre" in capsys.readouterr().err
    assert main(["recommend", "--run", str(demo_run), "--hide-disliked", "2"]) == 2
    assert "rating values" in capsys.readouterr().err  # the demo run has no file to reload


def test_hide_disliked_reloads_the_source(ml100k, tmp_path):
    info = RunStore(tmp_path).save(Popularity().fit(ml100k), ml100k, name="pop")
    run = load_run(info.path)
    data = dataset_for_run(run, with_ratings=True)
    assert data.fingerprint == ml100k.fingerprint
    out = recommend_for_run(run, [0], k=10, config=RerankConfig(hide_seen=False, hide_disliked=2))
    disliked = ml100k.user_items(0)[ml100k.ratings[0].data <= 2]
    assert not np.isin(ml100k.item_indices(out["item"].tolist()), disliked).any()
    assert len(out) == 10
