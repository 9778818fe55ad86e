"""WALS trained and served on Apache Spark (local[2]): an ordinary run, the same objective.

Skipped without pyspark or Java on a developer machine, a failure under CI=true (``.ci/run``
installs both). One SparkSession and one small training on MovieLens 100K serve every test.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys_core.cli import main
from recsys_core.models.als import kernels
from recsys_core.runs import spark as spark_engine
from recsys_core.runs.store import RunStore, load_run
from tests.conftest import _missing

FACTORS, ITERATIONS = 16, 3
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")


@pytest.fixture(scope="module")
def spark():
    reason = spark_engine.spark_unavailable_reason()
    if reason:
        _missing(reason)
    # Not stopped: the app tests (tests/app/test_app_spark.py) reuse it in the same process.
    return spark_engine.spark_session("local[2]")


@pytest.fixture(scope="module")
def trained(spark, ml100k, data_dir, tmp_path_factory):
    """A run trained by the command line on Spark with a 20% holdout."""
    out = tmp_path_factory.mktemp("spark-runs") / "ml100k-spark"
    code = main(["train", "--engine", "spark", "--master", "local[2]", "--model", "wals",
                 "--data", str(data_dir / "ml-100k"), "--out", str(out), "--holdout", "0.2",
                 "--set", f"factors={FACTORS}", "--set", f"iterations={ITERATIONS}",
                 "--set", "regularization=0.1", "--set", "alpha=1"])
    assert code == 0
    return out


def _exact_user_step(model, matrix: sp.csr_matrix) -> np.ndarray:
    """One exact WALS user half-step from the model's item factors (our kernel, our weights)."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    cols, gram = model._columns()
    weights = model._confidence(matrix.data).astype(np.float32)
    reg = model._row_regularization(np.diff(matrix.indptr), matrix.shape[1])
    out = np.zeros((matrix.shape[0], cols.shape[1]), dtype=np.float32)
    kernels.solve_rows_cholesky_serial(matrix.indptr, matrix.indices, weights, cols, gram,
                                       float(model.unobserved_weight), reg, out)
    return out


def test_spark_als_solves_our_wals_objective_with_count_regularization(spark):
    # Spark's last half-step solves every user exactly for its objective; if the mapping holds
    # (regParam scaled by each row's count = regularization_type="count", c = 1 + alpha r,
    # unobserved weight 1), our exact solve from Spark's item factors gives Spark's users back.
    rng = np.random.default_rng(0)
    dense = (rng.random((40, 25)) < 0.3) * rng.integers(1, 6, (40, 25))
    matrix = sp.csr_matrix(dense.astype(np.float32))
    trainer = spark_engine.SparkWALS(factors=4, iterations=8, regularization=0.05, alpha=2.0,
                                     spark=spark).fit(matrix)
    model = trainer.model_
    users = model.user_embeddings_
    assert np.abs(users).max() > 0.1  # a real solution, not zeros
    np.testing.assert_allclose(_exact_user_step(model, matrix), users, atol=1e-4)
    # ... while the other regularization settings of ours give other solutions
    for other in ("l2", "frequency"):
        model.regularization_type = other
        assert np.abs(_exact_user_step(model, matrix) - users).max() > 1e-2, other
    model.regularization_type = "count"
    assert spark_engine.spark_als_params(model) == {
        "rank": 4, "maxIter": 8, "regParam": 0.05, "alpha": 2.0, "seed": 0,
        "implicitPrefs": True, "nonnegative": False}
    assert set(model.history_[-1]) >= {"observed", "unobserved", "regularization", "total"}


def test_spark_run_is_an_ordinary_run_with_raw_ids_and_engine(trained, ml100k):
    run = load_run(trained)
    info = run.info
    assert info.model_kind == "wals" and info.params["regularization_type"] == "count"
    assert info.engine["name"] == "spark" and info.engine["master"] == "local[2]"
    assert info.engine["version"].split(".")[0] >= "3"
    assert info.engine["als"]["rank"] == FACTORS and info.engine["als"]["maxIter"] == ITERATIONS
    assert run.model.user_embeddings_.shape == (ml100k.n_users, FACTORS)
    assert run.model.item_embeddings_.shape == (ml100k.n_items, FACTORS)
    np.testing.assert_array_equal(run.user_ids, ml100k.user_ids)
    np.testing.assert_array_equal(run.item_ids, ml100k.item_ids)
    # our metrics on the stated sample and Spark's RankingMetrics on all test users
    assert info.engine["metrics_sample_users"] == info.engine["spark_metrics_users"] > 900
    assert 0.05 < info.metrics["ndcg@10"] < 1 and 0.05 < info.metrics["spark_ndcg@10"] < 1
    assert [h["epoch"] for h in info.history] == [ITERATIONS]
    # the store lists it like any run; fold-in from a user's training items gives their row back
    # (the factors sit at the rows of their raw ids)
    assert [i.name for i in RunStore(trained.parent).list()] == [trained.name]
    seen = run.model.seen_
    for user in (0, 100, 942):
        items = seen.indices[seen.indptr[user]:seen.indptr[user + 1]]
        ratings = ml100k.ratings[user, items].toarray().ravel()
        np.testing.assert_allclose(run.model.fold_in(items, ratings),
                                   run.model.user_embeddings_[user], atol=2e-3)
    items, scores = run.model.recommend(np.arange(5), 10, exclude_seen=True)
    assert items.shape == (5, 10) and np.all(np.diff(scores, axis=1) <= 1e-6)


def test_spark_recommend_writes_parquet_without_seen_items(trained, tmp_path, spark):
    output = tmp_path / "recs.parquet"
    assert main(["recommend", "--engine", "spark", "--master", "local[2]", "--run", str(trained),
                 "--k", "5", "--output", str(output)]) == 0
    recs = pd.read_parquet(output).sort_values(["user", "rank"])
    run = load_run(trained)
    assert len(recs) == 5 * len(run.user_ids) and set(recs["rank"]) == {1, 2, 3, 4, 5}
    seen = run.model.seen_.tocoo()
    seen_pairs = set(zip(run.user_ids[seen.row].tolist(), run.item_ids[seen.col].tolist()))
    assert not seen_pairs & set(zip(recs["user"].tolist(), recs["item"].tolist()))
    # the same lists as the local engine
    users = run.user_indices(recs["user"].unique()[:20])
    local, _ = run.model.recommend(users, 5, exclude_seen=True)
    for user, row in zip(users, local):
        mine = recs[recs["user"] == run.user_ids[user]]["item"].tolist()
        assert mine == run.item_ids[row].tolist()
    # an existing output is never overwritten
    assert main(["recommend", "--engine", "spark", "--run", str(trained),
                 "--output", str(output)]) == 2


def test_spark_reads_parquet_ratings(spark, ml100k, tmp_path):
    coo = ml100k.ratings.tocoo()
    path = tmp_path / "ratings.parquet"
    pd.DataFrame({"userId": ml100k.user_ids[coo.row], "movieId": ml100k.item_ids[coo.col],
                  "rating": coo.data}).to_parquet(path)
    dataset = spark_engine.read_ratings(str(path), spark)
    assert dataset.shape == ml100k.shape and dataset.n_ratings == ml100k.n_ratings
    assert (dataset.ratings != ml100k.ratings).nnz == 0


def test_without_pyspark_or_java_the_error_says_what_to_install(monkeypatch, capsys, tmp_path):
    real = spark_engine.importlib.util.find_spec
    monkeypatch.setattr(spark_engine.importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyspark" else real(name, *a))
    monkeypatch.setattr(spark_engine.shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    code = main(["train", "--engine", "spark", "--model", "wals", "--data", str(tmp_path),
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert "pyspark is not installed" in err and "no Java runtime" in err
    assert "pip install -r requirements-spark.txt" in err and "default-jre-headless" in err
    assert not (tmp_path / "run").exists()


def test_spark_settings_outside_the_mapping_are_refused(capsys, tmp_path):
    code = main(["train", "--engine", "spark", "--model", "wals", "--data", str(tmp_path),
                 "--out", str(tmp_path / "run"), "--set", "unobserved_weight=0.3"])
    assert code == 2 and "unobserved_weight" in capsys.readouterr().err
