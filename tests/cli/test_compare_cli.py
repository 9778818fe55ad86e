"""``compare`` on MovieLens 100K: WALS beats popularity significantly, the printed interval is the
paired t interval of the written per-user values, a run compared with itself differs by exactly
0, ``--json`` carries the fields, and incomparable runs exit 2 with one line."""
import json
import math

import pandas as pd
import pytest
from scipy import stats

from recsys_core.cli import main


def cli(capsys, *args):
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def runs(ml100k, data_dir, tmp_path_factory):
    """Popularity and WALS (3 iterations) on the seed-0 20% holdout, popularity on seed 1 and on
    all the data."""
    folder = tmp_path_factory.mktemp("compare-cli")
    out = {}
    for name, model, settings, holdout, seed in (
            ("pop", "popularity", [], "0.2", "0"),
            ("wals", "wals", ["--set", "iterations=3"], "0.2", "0"),
            ("pop-seed1", "popularity", [], "0.2", "1"),
            ("pop-all", "popularity", [], "0", "0")):
        out[name] = folder / name
        assert main(["train", "--data", str(data_dir / "ml-100k"), "--model", model, *settings,
                     "--out", str(out[name]), "--holdout", holdout, "--seed", seed]) == 0
    out["folder"] = folder
    return out


def test_wals_beats_popularity_and_the_interval_is_the_per_user_t_interval(runs, capsys):
    per_user = runs["folder"] / "per-user.csv"
    code, out, err = cli(capsys, "compare", runs["wals"], runs["pop"], "--metric", "ndcg@10",
                         "--per-user", per_user)
    assert code == 0, err
    lines = out.splitlines()
    assert "943 users" in lines[0]
    assert lines[-1].startswith("wals is better by") and "in ndcg@10, p < 0.0001" in lines[-1]
    half = float(out.split("half-width ")[1].split(")")[0])
    table = pd.read_csv(per_user)
    assert list(table.columns) == ["user", "a", "b"] and len(table) == 943
    assert table["user"].between(1, 943).all()  # raw MovieLens ids, not indices
    d = (table["a"] - table["b"]).to_numpy()
    recomputed = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    assert half == pytest.approx(recomputed, rel=0.25)
    assert half == pytest.approx(recomputed, abs=1e-4)  # printed to 4 decimals


def test_json_fields(runs, capsys):
    code, out, _ = cli(capsys, "compare", runs["wals"], runs["pop"], "--json", "--k", "5",
                       "--metric", "recall@5")
    assert code == 0
    record = json.loads(out)
    assert {"metric", "mean_a", "mean_b", "diff", "ci_low", "ci_high", "p_value", "n_users",
            "method", "verdict", "run_a", "run_b"} <= set(record)
    assert record["metric"] == "recall@5" and record["n_users"] == 943
    assert record["run_a"] == "wals" and record["method"] == "paired t"
    assert record["ci_low"] < record["diff"] < record["ci_high"] and record["ci_low"] > 0
    assert record["diff"] == pytest.approx(record["mean_a"] - record["mean_b"])
    code, out, _ = cli(capsys, "compare", runs["pop"], runs["wals"], "--json", "--metric", "gini")
    gini = json.loads(out)
    assert gini["method"] == "paired bootstrap" and gini["diff"] > 0
    assert gini["verdict"].startswith("wals is better")  # lower exposure Gini


def test_a_run_compared_with_itself_is_exactly_zero(runs, capsys):
    code, out, _ = cli(capsys, "compare", runs["wals"], runs["wals"], "--json")
    record = json.loads(out)
    assert code == 0
    assert (record["diff"], record["ci_low"], record["ci_high"], record["p_value"]) == \
        (0.0, 0.0, 0.0, 1.0)


@pytest.mark.parametrize("other, args, message", [
    ("pop-all", [], "trained on all its data"),
    ("pop-seed1", [], "different train/test splits (seed differs)"),
    ("pop", ["--metric", "ndcg@7"], "unknown metric 'ndcg@7'"),
    ("pop", ["--metric", "coverage", "--per-user", "x.csv"], "no per-user values"),
    ("missing", [], "no such run folder"),
])
def test_refusals_are_one_line_and_exit_2(runs, capsys, other, args, message):
    code, out, err = cli(capsys, "compare", runs["pop"], runs["folder"] / other, *args)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_help_names_the_tests(capsys):
    code, out, _ = cli(capsys, "compare", "--help")
    assert code == 0 and "paired t" in out and "--per-user" in out
