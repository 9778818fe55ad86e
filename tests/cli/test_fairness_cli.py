"""Ranked group fairness from the command line on MovieLens 100K (issue 21.4): `recommend` keeps
the long-tail share in every prefix of every list, and `evaluate` with the same knobs prints the
metrics in model order and re-ranked (NDCG with its paired standard error, the group's exposure
share plain and position-discounted)."""
import io
import re

import numpy as np
import pandas as pd
import pytest

from recsys_core.cli import main
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import WALS
from recsys_core.runs.store import RunStore, load_run
from recsys_core.serving.pipeline import dataset_for_run
from recsys_core.serving.rerank import group_mask, prefix_shortfalls

USERS = 150


@pytest.fixture(scope="module")
def ml_run(ml100k, tmp_path_factory):
    split = holdout_split(ml100k, 0.2, seed=0)
    root = tmp_path_factory.mktemp("fair-runs")
    info = RunStore(root).save(WALS(factors=16, iterations=4).fit(split.train), ml100k,
                               name="wals-fair", split=split)
    test = split.test.ratings.tocoo()
    pd.DataFrame({"user": ml100k.user_ids[test.row], "item": ml100k.item_ids[test.col],
                  "rating": test.data}).to_csv(root / "test.csv", index=False)
    users = root / "users.txt"
    users.write_text("\n".join(map(str, ml100k.user_ids[:USERS])) + "\n")
    return info.path, root / "test.csv", users


def test_recommend_keeps_the_share_in_every_prefix(ml_run, capsys):
    run_path, _, users = ml_run
    argv = ["recommend", "--run", str(run_path), "--users", str(users), "--k", "20",
            "--fair-group", "long-tail", "--fair-share", "0.3"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    out = pd.read_csv(io.StringIO(captured.out))
    assert "warning" not in captured.err
    run = load_run(run_path)
    tail = group_mask(dataset_for_run(run), "long-tail")
    index = pd.Series(np.arange(len(run.item_ids)), index=run.item_ids)
    lists = np.stack([index[items].to_numpy() for _, items in
                      out.sort_values(["user", "rank"]).groupby("user")["item"]])
    assert lists.shape == (USERS, 20)
    assert (prefix_shortfalls(lists, tail, 0.3) == 0).all()
    counts = np.cumsum(tail[lists], axis=1)
    assert (counts[:, 9] >= 3).all() and (counts[:, 3] >= 1).all()  # not only at ranks 15-20
    # Without the knob most lists hold no long-tail item in their top 10.
    assert main(argv[:-4]) == 0
    plain = pd.read_csv(io.StringIO(capsys.readouterr().out))
    top10 = plain[plain["rank"] <= 10]
    assert tail[index[top10["item"]].to_numpy()].mean() < 0.1


def test_evaluate_reports_exposure_and_ndcg_before_and_after(ml_run, capsys):
    run_path, test_csv, _ = ml_run
    assert main(["evaluate", "--run", str(run_path), "--test", str(test_csv), "--max-users",
                 str(USERS), "--fair-group", "long-tail", "--fair-share", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "re-ranked (--fair-group long-tail, --fair-share 0.3) on the same 150 users:" in out

    def row(name):
        found = re.search(rf"^  {re.escape(name)}\s+([-\d.]+)\s+([-\d.]+)\s+([-+\d.]+)(.*)$",
                          out, re.M)
        assert found, (name, out)
        return float(found.group(1)), float(found.group(2)), found.group(4)

    before, after, _ = row("long-tail exposure share, position-discounted")
    assert after - before > 0.15 and after >= 0.2  # floor(0.3 n): ranks 4, 7, 10 at the least
    before, after, _ = row("lists with 30% long-tail in every prefix")
    assert before < 0.5 and after == 1.0
    before, after, note = row("ndcg@10")
    assert after <= before and "standard error of the paired change, " in note
    # Neutral knobs: no before/after table.
    assert main(["evaluate", "--run", str(run_path), "--test", str(test_csv), "--max-users",
                 str(USERS)]) == 0
    assert "re-ranked" not in capsys.readouterr().out


def test_evaluate_warns_when_the_catalogue_cannot_meet_the_share(ml_run, capsys):
    run_path, test_csv, _ = ml_run
    assert main(["evaluate", "--run", str(run_path), "--test", str(test_csv), "--max-users", "20",
                 "--fair-group", "Drama", "--fair-share", "0.3", "--exclude-genres",
                 "Drama"]) == 0
    err = capsys.readouterr().err
    # Every list of 10 misses floor(0.3 n) at n = 4..9 and ceil(3) at 10: 7 prefixes each.
    assert "too few Drama items" in err and "20 user(s)" in err and "140 prefixes" in err
