"""``train``, ``recommend``, ``predict`` and ``evaluate`` end to end on a small demo catalogue."""
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.cli import main
from recsys_core.data import load_dataset
from recsys_core.data.demo import make_demo_dataset
from recsys_core.evaluation.split import holdout_split
from recsys_core.runs.store import load_run
from tests.files import write_ratings_csv
from tests.cli.support import cli

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The demo catalogue written as ratings.csv + items.csv, the dataset read back, and a split."""
    folder = tmp_path_factory.mktemp("cli-data")
    data = make_demo_dataset(seed=0, n_users=150, n_items=90)
    write_ratings_csv(data, folder)
    pd.DataFrame({"item": data.item_ids, "title": data.items["title"], "year": data.items["year"],
                  "genres": data.items["genres"]}).to_csv(folder / "items.csv", index=False)
    loaded = load_dataset(folder / "ratings.csv", folder / "items.csv")
    split = holdout_split(loaded, 0.2, seed=0)
    test = split.test.ratings.tocoo()
    pd.DataFrame({"user": loaded.user_ids[test.row], "item": loaded.item_ids[test.col],
                  "rating": test.data}).to_csv(folder / "test.csv", index=False)
    return {"folder": folder, "ratings": folder / "ratings.csv", "items": folder / "items.csv",
            "test": folder / "test.csv", "dataset": loaded, "split": split}




def train(capsys, files, out, model, *settings, holdout=0.2):
    args = ["train", "--data", files["ratings"], "--items", files["items"], "--model", model,
            "--out", out, "--holdout", holdout]
    for s in settings:
        args += ["--set", s]
    return cli(capsys, *args)


@pytest.fixture(scope="module")
def popularity_run(files, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "pop"
    code = main(["train", "--data", str(files["ratings"]), "--items", str(files["items"]),
                 "--model", "popularity", "--set", "variant=mean-rating", "--set", "damping=2.5",
                 "--out", str(out), "--holdout", "0.2"])
    assert code == 0
    return out


def test_train_saves_a_run_with_typed_settings_and_holdout_metrics(capsys, files, tmp_path):
    code, out, err = train(capsys, files, tmp_path / "content", "content", "center_ratings=false",
                           "year_bucket=5", "measure=dot", "year_weight=1")
    assert code == 0, err
    assert "150 users, 90 items" in out and "split: a random 20% of each user's ratings (seed 0)" in out
    assert "precision@10" in out and "saved run" in out
    info = json.loads((tmp_path / "content" / "run.json").read_text())
    assert info["params"]["center_ratings"] is False and info["params"]["year_bucket"] == 5
    assert info["params"]["year_weight"] == 1.0 and isinstance(info["params"]["year_weight"], float)
    assert info["split"]["fingerprint"] == files["split"].fingerprint
    assert info["metrics"]["precision@10"] > 0
    run = load_run(tmp_path / "content")
    # The model saw only the training part of the split.
    assert run.model.seen_.nnz == files["split"].train.n_ratings


def test_train_prints_progress_per_epoch_and_final_losses(capsys, files, tmp_path):
    code, out, err = train(capsys, files, tmp_path / "wals", "wals", "factors=4", "iterations=3",
                           holdout=0)
    assert code == 0, err
    epochs = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["1/3", "2/3", "3/3"]
    assert "final losses:" in out
    assert load_run(tmp_path / "wals").info.split is None


def test_recommend_writes_raw_ids_and_excludes_training_items(capsys, files, popularity_run, tmp_path):
    output = tmp_path / "recs.csv"
    code, _, err = cli(capsys, "recommend", "--run", popularity_run, "--k", 5, "--output", output)
    assert code == 0, err
    recs = pd.read_csv(output)
    assert list(recs.columns) == ["user", "item", "rank", "score"]
    run = load_run(popularity_run)
    assert set(recs["user"]) == set(run.user_ids.tolist())
    assert (recs.groupby("user")["rank"].apply(list) == pd.Series([[1, 2, 3, 4, 5]] * 150,
                                                                 index=sorted(run.user_ids))).all()
    assert (recs.groupby("user")["score"].diff().dropna() <= 1e-6).all()  # best first
    train_pairs = {(run.user_ids[u], run.item_ids[i]) for u, i in zip(*run.model.seen_.nonzero())}
    assert not train_pairs & set(zip(recs["user"], recs["item"]))


def test_recommend_for_users_listed_in_a_file(capsys, files, popularity_run, tmp_path):
    run = load_run(popularity_run)
    users = tmp_path / "users.txt"
    users.write_text(f"user\n{run.user_ids[7]}\n\n{run.user_ids[3]}\n")
    code, out, err = cli(capsys, "recommend", "--run", popularity_run, "--k", 2, "--users", users)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "user,item,rank,score"
    assert [line.split(",")[0] for line in lines[1:]] == [str(run.user_ids[7])] * 2 + [str(run.user_ids[3])] * 2
    items, scores = run.model.recommend([7], k=2)
    assert lines[1].split(",")[1] == str(run.item_ids[items[0, 0]])

    users.write_text(f"{run.user_ids[0]}\nghost\n")
    code, _, err = cli(capsys, "recommend", "--run", popularity_run, "--users", users)
    assert code == 2
    assert err.count("\n") == 1 and "users.txt:2" in err and "unknown user id 'ghost'" in err


def test_predict_gives_ratings_for_explicit_models(capsys, files, popularity_run, tmp_path):
    run = load_run(popularity_run)
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("user,item\n" + "".join(f"{run.user_ids[u]},{run.item_ids[i]}\n"
                                             for u, i in [(0, 0), (5, 3), (9, 80)]))
    output = tmp_path / "preds.csv"
    code, _, err = cli(capsys, "predict", "--run", popularity_run, "--pairs", pairs, "--output", output)
    assert code == 0, err
    preds = pd.read_csv(output)
    assert list(preds.columns) == ["user", "item", "prediction"]
    expected = run.model.predict([0, 5, 9], [0, 3, 80])
    np.testing.assert_allclose(preds["prediction"], expected, rtol=1e-5)
    assert preds["prediction"].between(1, 5).all()


def test_predict_names_the_line_of_an_unknown_id(capsys, files, popularity_run, tmp_path):
    run = load_run(popularity_run)
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"user,item\n{run.user_ids[0]},{run.item_ids[0]}\n{run.user_ids[1]},999999\n")
    code, _, err = cli(capsys, "predict", "--run", popularity_run, "--pairs", pairs)
    assert code == 2
    assert "pairs.csv:3" in err and "unknown item id '999999'" in err and err.count("\n") == 1


def test_integer_ids_are_matched_by_value(capsys, files, popularity_run, tmp_path):
    run = load_run(popularity_run)
    user, item = run.user_ids[4], run.item_ids[6]
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"user,item\n00{user},+{item}\n{user},{item}.0\n")
    code, out, err = cli(capsys, "predict", "--run", popularity_run, "--pairs", pairs)
    assert code == 0, err
    assert [line.split(",")[:2] for line in out.strip().splitlines()[1:]] == [[str(user), str(item)]] * 2
    pairs.write_text(f"user,item\n{user},{item}\n{user},7.5\n")
    code, _, err = cli(capsys, "predict", "--run", popularity_run, "--pairs", pairs)
    assert code == 2 and "pairs.csv:3" in err and "unknown item id '7.5'" in err


def test_predict_without_a_header_takes_user_item_in_order(capsys, files, popularity_run,
                                                           tmp_path):
    run = load_run(popularity_run)
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(f"{run.user_ids[2]}\t{run.item_ids[4]}\n{run.user_ids[3]}\t{run.item_ids[5]}\n")
    code, out, err = cli(capsys, "predict", "--run", popularity_run, "--pairs", pairs)
    assert code == 0, err
    values = [float(line.split(",")[2]) for line in out.strip().splitlines()[1:]]
    np.testing.assert_allclose(values, run.model.predict([2, 3], [4, 5]), rtol=1e-5)


def test_evaluate_reproduces_the_holdout_metrics(capsys, files, popularity_run):
    code, out, err = cli(capsys, "evaluate", "--run", popularity_run, "--test", files["test"])
    assert code == 0, err
    printed = {line.split()[0]: float(line.split()[1]) for line in out.splitlines()
               if line.startswith("  ")}
    recorded = load_run(popularity_run).info.metrics
    assert {"precision@10", "ndcg@10", "rmse", "mae"} <= set(printed)
    for name, value in printed.items():
        assert value == pytest.approx(recorded[name], abs=1e-4)


def test_evaluate_warns_about_test_pairs_seen_in_training(capsys, files, popularity_run):
    code, out, err = cli(capsys, "evaluate", "--run", popularity_run, "--test", files["ratings"],
                         "--k", 5)
    assert code == 0, err
    assert "are also training pairs" in out and "precision@5" in out


@pytest.mark.parametrize("settings, message", [
    (["nonsense=1"], "valid names: variant, damping"),
    (["damping=lots"], "expected a float"),
    (["damping"], "NAME=VALUE"),
    (["variant=median"], "variant must be one of"),
])
def test_bad_settings_exit_2_with_one_line(capsys, files, tmp_path, settings, message):
    code, _, err = train(capsys, files, tmp_path / "run", "popularity", *settings)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_existing_out_folder_is_never_overwritten(capsys, files, popularity_run):
    before = (popularity_run / "run.json").read_bytes()
    code, _, err = train(capsys, files, popularity_run, "popularity")
    assert code == 2 and "refusing to overwrite" in err
    assert (popularity_run / "run.json").read_bytes() == before


@pytest.mark.parametrize("args, message", [
    (["train", "--data", "missing.csv", "--model", "popularity", "--out", "x"], "no such file"),
    (["train", "--data", "r.csv", "--model", "nope", "--out", "x"], "invalid choice"),
    (["train", "--data", "r.csv", "--model", "popularity", "--out", "x", "--holdout", "1.5"], "--holdout"),
    (["recommend", "--run", "no-such-run"], "no such run folder"),
    (["recommend", "--run", "no-such-run", "--k", "0"], "--k must be >= 1"),
    (["evaluate", "--run", "no-such-run", "--test", "t.csv"], "no such run folder"),
])
def test_bad_arguments_exit_2(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, *args)
    assert code == 2 and message in err and err.count("\n") == 1


def test_a_corrupted_run_exits_2_without_a_traceback(files, popularity_run, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("run.json", "ids.npz"):
        (broken / name).write_bytes((popularity_run / name).read_bytes())
    (broken / "model.npz").write_bytes(b"not a zip")
    result = subprocess.run([sys.executable, "-m", "recsys_core", "recommend", "--run", str(broken)],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert "model.npz" in result.stderr


@pytest.mark.parametrize("command", ["train", "recommend", "predict", "evaluate"])
def test_help(capsys, command):
    code, out, _ = cli(capsys, command, "--help")
    assert code == 0 and "usage:" in out and ("--run" in out or "--data" in out)


def test_train_mf_on_explicit_ratings_predicts_ratings(capsys, files, tmp_path):
    code, out, err = train(capsys, files, tmp_path / "mf", "mf", "factors=4", "epochs=3",
                           "objective=observed", "use_bias=true")
    assert code == 0, err
    assert [line.split()[1] for line in out.splitlines() if line.startswith("epoch ")] == \
        ["1/3", "2/3", "3/3"]
    run = load_run(tmp_path / "mf")
    assert run.model.use_bias is True and "rmse" in run.info.metrics
    code, out, err = cli(capsys, "evaluate", "--run", tmp_path / "mf", "--test", files["test"])
    assert code == 0, err
    rmse = next(float(line.split()[1]) for line in out.splitlines() if line.split()[:1] == ["rmse"])
    assert rmse == pytest.approx(run.info.metrics["rmse"], abs=1e-4) and rmse < 1.5


def test_train_offers_every_trainable_model(capsys):
    from recsys_core.models import MODEL_REGISTRY, trainable_models

    code, out, _ = cli(capsys, "train", "--help")
    assert code == 0
    # Every model the engine ships but the wrapper of precomputed embeddings (test modules
    # register models of their own).
    shipped = {kind for kind, cls in MODEL_REGISTRY.items()
               if cls.__module__.startswith("recsys_core.")}
    assert {kind for kind in trainable_models() if kind in shipped} == shipped - {"precomputed"}
    for kind in trainable_models():
        assert kind in out


def _test_pairs(files, tmp_path):
    """The held-out (user, item) pairs of ``files`` as a pairs CSV, and their true ratings."""
    test = pd.read_csv(files["test"])
    pairs = tmp_path / "pairs.csv"
    test[["user", "item"]].to_csv(pairs, index=False)
    return pairs, test["rating"].to_numpy()


@pytest.mark.parametrize("model, settings", [
    ("mf", ["factors=4", "epochs=3"]),  # the default, weighted objective
    ("wals", ["factors=4", "iterations=3"]),
    ("svd", ["factors=4", "binary=false"]),  # even on the rating values: zeros stand for unseen
])
def test_predict_refuses_runs_whose_scores_are_not_ratings(capsys, files, tmp_path, model,
                                                           settings):
    """Scores that rank items are not rating estimates (weighted MF's sit far below the ratings):
    predict says so in one line, with how to train a run that predicts ratings, and writes
    nothing; the holdout metrics and evaluate leave RMSE out and say why."""
    code, out, err = train(capsys, files, tmp_path / model, model, *settings)
    assert code == 0, err
    assert "note: no RMSE/MAE" in out
    run = load_run(tmp_path / model)
    assert not run.model.predicts_ratings and "rmse" not in run.info.metrics
    pairs, _ = _test_pairs(files, tmp_path)
    output = tmp_path / "preds.csv"
    code, out, err = cli(capsys, "predict", "--run", tmp_path / model, "--pairs", pairs,
                         "--output", output)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"run {model} ({model}): its scores rank items but are not rating estimates" in err
    assert "`--model mf --set objective=observed`" in err
    assert not output.exists()
    code, out, err = cli(capsys, "evaluate", "--run", tmp_path / model, "--test", files["test"])
    assert code == 0, err
    assert "ndcg@10" in out and "rmse" not in out.replace("RMSE", "")
    assert f"note: no RMSE/MAE: run {model} ({model}): its scores rank items" in out


def test_predict_gives_rating_estimates_of_an_observed_objective_mf_run(capsys, files,
                                                                        tmp_path):
    """The same MF trained on the observed objective predicts ratings: within the scale, spread
    over it, and closer to the held-out ratings than their mean is (the RMSE the run records)."""
    code, _, err = train(capsys, files, tmp_path / "mf", "mf", "objective=observed")
    assert code == 0, err
    run = load_run(tmp_path / "mf")
    assert run.model.predicts_ratings
    pairs, truth = _test_pairs(files, tmp_path)
    code, out, err = cli(capsys, "predict", "--run", tmp_path / "mf", "--pairs", pairs)
    assert code == 0, err
    preds = pd.read_csv(io.StringIO(out))
    assert list(preds.columns) == ["user", "item", "prediction"] and len(preds) == len(truth)
    values = preds["prediction"].to_numpy()
    assert values.min() >= 1 and values.max() <= 5 and abs(values.mean() - truth.mean()) < 0.2
    assert values.std() > 0.3  # personal estimates, not one constant
    rmse = float(np.sqrt(np.mean((values - truth) ** 2)))
    assert rmse == pytest.approx(run.info.metrics["rmse"], abs=1e-4)
    assert rmse < 0.9 * float(np.std(truth))  # better than predicting the mean rating


def test_train_and_evaluate_average_over_the_apps_fixed_user_sample(capsys, files, tmp_path):
    """Big data is evaluated on a fixed, stated sample of users, in the CLI as in the app: the
    same users for the same seed, said in the output and recorded with the run."""
    from recsys_core.evaluation.metrics import evaluate_model, sample_users

    code, out, err = cli(capsys, "train", "--data", files["ratings"], "--items", files["items"],
                         "--model", "popularity", "--out", tmp_path / "pop", "--holdout", 0.2,
                         "--max-users", 40)
    assert code == 0, err
    run = load_run(tmp_path / "pop")
    n_test = run.info.metrics["test_users"]
    assert run.info.metrics["evaluated_users"] == 40 < n_test
    assert f"on a fixed sample of 40 of the {n_test} test users (seed 0)" in out
    assert "evaluated_users" not in out  # said in words, not printed as a metric
    split = holdout_split(load_dataset(files["ratings"], files["items"]), 0.2, seed=0)
    expected = evaluate_model(run.model, split.test, k=10,
                              users=sample_users(split.test.ratings, 40))
    assert run.info.metrics["ndcg@10"] == pytest.approx(expected["ndcg@10"])

    code, out, err = cli(capsys, "evaluate", "--run", tmp_path / "pop", "--test", files["test"],
                         "--max-users", 0)
    assert code == 0, err
    assert f"metrics over all {n_test} test users" in out
    code, _, err = cli(capsys, "evaluate", "--run", tmp_path / "pop", "--test", files["test"],
                       "--max-users", -1)
    assert code == 2 and "--max-users" in err
