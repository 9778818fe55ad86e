"""Train and serve WALS on Apache Spark: Spark MLlib's ALS does the work, the result is a run.

When the interaction log outgrows one machine, :class:`SparkWALS` fits
``pyspark.ml.recommendation.ALS`` (implicit preferences) on a Spark cluster (``local[*]`` by
default) and returns our :class:`~recsys_core.models.als.wals.WALS` holding Spark's factors, so
the run it is saved as opens in every page, the command line and the metrics like any other;
:func:`spark_recommend` writes top-k lists for every user from any run's embeddings on the cluster.

Spark's implicit ALS solves our WALS objective with ``regularization_type="count"``,
``confidence="linear"``, unobserved weight 1 and no frequency weighting (:data:`SPARK_FIXED`,
:func:`equivalent_wals`): the mapping and why it holds are in docs/model-notes.md ("Spark's ALS
as WALS"). Both solve each row exactly, so :meth:`WALS.fold_in` of a Spark run folds a new user
in as Spark would.

Spark exposes no per-iteration losses; a run records the objective above at the end (its
``history_``) and, in its ``engine`` record, Spark's version, master, the fit time and the
stages and tasks Spark ran. pyspark is imported inside functions only: importing recsys_core never
needs it, nor Java.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..data.dataset import Dataset, as_interaction_matrix
from ..errors import DataError, EngineUnavailableError, HyperparameterError
from ..evaluation.metrics import sample_users
from ..models.als.wals import WALS

#: What to install for the Spark engine (quoted by every "not available" message).
INSTALL_HINT = ("pip install -r requirements-spark.txt (pyspark), and Java 17 "
                "(Debian/Ubuntu: apt-get install default-jre-headless)")
#: WALS settings that make its objective Spark's implicit ALS (see the module docstring).
SPARK_FIXED = {"unobserved_weight": 1.0, "confidence": "linear", "user_frequency_exponent": 0.0,
               "item_frequency_exponent": 0.0, "regularization_type": "count",
               "solver": "cholesky", "side_features": False, "impute_cold_items": False}
#: The hyperparameters a Spark fit takes, with their defaults (Spark's usual regParam and alpha).
SPARK_DEFAULTS = {"factors": 64, "iterations": 15, "regularization": 0.1, "alpha": 1.0,
                  "random_state": 0}
DEFAULT_MASTER = "local[*]"
#: Ratings files the Spark reader opens (anything else goes through our loaders).
_SPARK_FORMATS = (".parquet", ".csv")


# ---------------------------------------------------------------------- availability
def spark_unavailable_reason() -> str | None:
    """Why the Spark engine cannot run here (what to install), or None when it can."""
    missing = []
    if importlib.util.find_spec("pyspark") is None:
        missing.append("pyspark is not installed")
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and Path(java_home, "bin", "java").exists()):
        missing.append("no Java runtime (java) was found")
    if not missing:
        return None
    return f"the Spark engine needs pyspark and Java 17: {' and '.join(missing)}; install " \
           f"{INSTALL_HINT}"


def require_spark() -> None:
    """Raise :class:`EngineUnavailableError` saying what to install when Spark cannot run."""
    reason = spark_unavailable_reason()
    if reason:
        raise EngineUnavailableError(reason)


def spark_session(master: str = DEFAULT_MASTER, app_name: str = "recsys-studio",
                  config: dict | None = None):
    """The SparkSession for ``master`` (an existing one is reused; Spark allows one per process).

    Local masters get few shuffle partitions (Spark's 200 only cost time on one machine) and no
    console progress bar; errors only. ``config`` adds Spark settings (e.g.
    ``{"spark.driver.memory": "4g"}``, which counts only before the first session starts the JVM).
    """
    require_spark()
    from pyspark.sql import SparkSession

    builder = (SparkSession.builder.master(master).appName(app_name)
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
    if master.startswith("local"):
        builder = builder.config("spark.sql.shuffle.partitions", "8")
    for key, value in (config or {}).items():
        builder = builder.config(key, str(value))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


# ---------------------------------------------------------------------- mapping
def equivalent_wals(**params) -> WALS:
    """Our WALS with the objective of Spark's implicit ALS for these hyperparameters (factors,
    iterations, regularization, alpha, random_state; the rest is :data:`SPARK_FIXED`)."""
    unknown = set(params) - set(SPARK_DEFAULTS)
    if unknown:
        raise HyperparameterError(
            f"Spark's ALS has no counterpart of {', '.join(sorted(unknown))}; it takes "
            f"{', '.join(SPARK_DEFAULTS)} (the rest is fixed: "
            + ", ".join(f"{k}={v!r}" for k, v in SPARK_FIXED.items()) + ")")
    model = WALS(**{**SPARK_DEFAULTS, **params, **SPARK_FIXED})
    model.validate_params()
    return model


def parse_settings(settings: list[str]) -> dict:
    """``["factors=32", ...]`` (the command line's ``--set``) -> Spark fit hyperparameters, each
    typed like its default in :data:`SPARK_DEFAULTS`; :class:`HyperparameterError` otherwise."""
    params = {}
    for setting in settings:
        name, sep, raw = (part.strip() for part in setting.partition("="))
        if not sep or not name:
            raise HyperparameterError(f"--set expects NAME=VALUE, got {setting!r}")
        if name not in SPARK_DEFAULTS:
            equivalent_wals(**{name: raw})  # raises, naming what Spark takes
        try:
            params[name] = type(SPARK_DEFAULTS[name])(raw)
        except ValueError:
            raise HyperparameterError(f"--set {name}={raw}: expected a "
                                      f"{type(SPARK_DEFAULTS[name]).__name__}") from None
    return params


def spark_als_params(model: WALS) -> dict:
    """Spark ALS keyword arguments for an :func:`equivalent_wals` model."""
    return {"rank": int(model.factors), "maxIter": int(model.iterations),
            "regParam": float(model.regularization), "alpha": float(model.alpha),
            "seed": int(model.random_state), "implicitPrefs": True, "nonnegative": False}


# ---------------------------------------------------------------------- reading
def read_ratings(path: str, spark=None, items_path: str | None = None) -> Dataset:
    """Ratings as a Dataset: a MovieLens folder or local ratings CSV through our loaders, a
    Parquet file or folder (or any ``scheme://`` URI: hdfs, s3a, gs, ...) through Spark's reader.

    Spark-read tables need ``user`` and ``item`` columns (or userId / movieId, as MovieLens has)
    and may have ``rating`` and ``timestamp``. The ratings are collected to the driver: the run
    keeps each user's training items (to exclude them from recommendations) and the raw ids.
    """
    text = str(path)
    is_uri = "://" in text and not text.startswith("file://")
    if not is_uri and not text.lower().endswith(".parquet") and not \
            (Path(text).is_dir() and any(Path(text).glob("*.parquet"))):
        from ..data.discovery import load_dataset

        return load_dataset(text, items_path)
    spark = spark or spark_session()
    reader = spark.read
    frame = (reader.parquet(text) if text.lower().rstrip("/").endswith(".parquet")
             or not text.lower().endswith(".csv")
             else reader.option("header", "true").option("inferSchema", "true").csv(text))
    names = {c.lower().replace("_", ""): c for c in frame.columns}

    def column(*candidates, required=True):
        for c in candidates:
            if c in names:
                return names[c]
        if required:
            raise DataError(f"no {candidates[0]} column (one of {', '.join(candidates)}) among "
                            f"{', '.join(frame.columns)}", path=text)
        return None

    user, item = column("user", "userid", "uid"), column("item", "itemid", "movieid", "iid")
    rating = column("rating", "score", "value", required=False)
    stamp = column("timestamp", "time", required=False)
    chosen = [c for c in (user, item, rating, stamp) if c is not None]
    table = frame.select(*chosen).toPandas()
    if table.empty:
        raise DataError("no ratings", path=text)
    return Dataset.from_interactions(
        table[user].to_numpy(), table[item].to_numpy(),
        None if rating is None else table[rating].to_numpy(dtype=np.float32),
        None if stamp is None else table[stamp].to_numpy(dtype=np.int64),
        name=Path(text.rstrip("/")).stem or "ratings", source=text)


def _ratings_frame(spark, matrix: sp.csr_matrix):
    """A Spark DataFrame (user int, item int, rating float) of the matrix's stored entries."""
    coo = matrix.tocoo()
    table = pd.DataFrame({"user": coo.row.astype(np.int32), "item": coo.col.astype(np.int32),
                          "rating": coo.data.astype(np.float32)})
    return spark.createDataFrame(table)


def _factor_matrix(frame, n: int, d: int) -> np.ndarray:
    """float32 (n, d) from Spark's (id, features) factors; rows Spark never saw stay 0."""
    table = frame.toPandas()
    out = np.zeros((n, d), dtype=np.float32)
    if len(table):
        out[table["id"].to_numpy(dtype=np.int64)] = np.stack(table["features"].to_numpy())
    return out


# ---------------------------------------------------------------------- progress
@dataclass(frozen=True)
class SparkProgress:
    """What Spark is doing, polled from its status tracker while a fit runs.

    Attributes
    ----------
    stages_done : int
        Stages finished since the fit started.
    stage : str
        Name of an active stage ("" between stages).
    tasks_done, tasks_total : int
        Tasks of the active stages.
    elapsed : float
        Seconds since the fit started.
    """

    stages_done: int
    stage: str
    tasks_done: int
    tasks_total: int
    elapsed: float


class _StageWatcher(threading.Thread):
    """Polls Spark's status tracker and reports :class:`SparkProgress`; a callback returning True
    cancels the running jobs (the fit then raises)."""

    def __init__(self, spark, callback, interval: float = 0.25):
        super().__init__(name="recsys-spark-progress", daemon=True)
        self.context = spark.sparkContext
        self.tracker = self.context.statusTracker()
        self.callback, self.interval = callback, interval
        self.done = threading.Event()
        self.cancelled = False
        self.completed: set[int] = set()
        self.seen: set[int] = set()
        self.started = time.perf_counter()
        self.before = set(self.tracker.getActiveStageIds())  # other work's stages

    def poll(self) -> SparkProgress:
        active = [s for s in self.tracker.getActiveStageIds() if s not in self.before]
        self.seen.update(active)
        infos = [self.tracker.getStageInfo(s) for s in active]
        infos = [i for i in infos if i is not None]
        self.completed.update(s for s in self.seen if s not in active)
        return SparkProgress(stages_done=len(self.completed),
                             stage=infos[0].name if infos else "",
                             tasks_done=sum(i.numCompletedTasks for i in infos),
                             tasks_total=sum(i.numTasks for i in infos),
                             elapsed=time.perf_counter() - self.started)

    def run(self):
        while not self.done.wait(self.interval):
            try:
                progress = self.poll()
            except Exception:  # the JVM is shutting down or busy: skip this poll
                continue
            if self.callback is not None and self.callback(progress) and not self.cancelled:
                self.cancelled = True
                self.context.cancelAllJobs()

    def stop(self) -> SparkProgress:
        self.done.set()
        self.join(timeout=5)
        return self.poll()


# ---------------------------------------------------------------------- training
class SparkWALS:
    """Fit WALS with Spark MLlib's ALS; ``model_`` is our WALS holding Spark's factors.

    Parameters
    ----------
    factors, iterations, regularization, alpha, random_state
        As :class:`~recsys_core.models.als.wals.WALS` with :data:`SPARK_FIXED` (the module
        docstring maps them to Spark's rank, maxIter, regParam, alpha, seed).
    master : str
        Spark master URL: ``local[*]``, ``local[2]``, ``spark://host:7077``, ``yarn``, ...
    spark : SparkSession, optional
        Use this session instead of getting one for ``master``.
    blocks : int, optional
        Spark's numUserBlocks and numItemBlocks (default: Spark's, 10).

    Attributes
    ----------
    model_ : WALS
        Fitted: ``user_embeddings_`` (n_users, d) and ``item_embeddings_`` (n_items, d) float32,
        rows in the training Dataset's index space (zeros for rows without training pairs),
        ``history_`` with one entry: the objective's terms at the end and the fit's seconds.
    als_model_ : pyspark.ml.recommendation.ALSModel
    engine_ : dict
        ``name`` "spark", ``version``, ``master``, ``default_parallelism``, ``fit_seconds``,
        ``stages``, ``als`` (Spark's parameters) -- the run's engine record.
    """

    def __init__(self, factors: int = 64, iterations: int = 15, regularization: float = 0.1,
                 alpha: float = 1.0, random_state: int = 0, master: str = DEFAULT_MASTER,
                 spark=None, blocks: int | None = None):
        self.factors = factors
        self.iterations = iterations
        self.regularization = regularization
        self.alpha = alpha
        self.random_state = random_state
        self.master = master
        self.spark = spark
        self.blocks = blocks

    def wals(self) -> WALS:
        """The (unfitted) equivalent WALS of these hyperparameters."""
        return equivalent_wals(factors=self.factors, iterations=self.iterations,
                               regularization=self.regularization, alpha=self.alpha,
                               random_state=self.random_state)

    def fit(self, data, *, callback: Callable[[SparkProgress], "bool | None"] | None = None
            ) -> "SparkWALS":
        """Train on a Dataset (or CSR matrix) in its index space; ``callback`` gets
        :class:`SparkProgress` a few times a second and cancels the fit by returning True."""
        model = self.wals()
        matrix, _ = as_interaction_matrix(data)
        if matrix.nnz and (not np.all(np.isfinite(matrix.data)) or matrix.data.min() < 0):
            raise DataError("WALS needs finite, non-negative interaction values (confidences)")
        spark = self.spark or spark_session(self.master)
        from pyspark.ml.recommendation import ALS

        model._start_fit(data)  # memory budget, seen_, fingerprint, history_
        als_params = spark_als_params(model)
        if self.blocks:
            als_params.update(numUserBlocks=int(self.blocks), numItemBlocks=int(self.blocks))
        als = ALS(userCol="user", itemCol="item", ratingCol="rating", **als_params)
        ratings = _ratings_frame(spark, matrix)
        watcher = _StageWatcher(spark, callback)
        watcher.start()
        started = time.perf_counter()
        try:
            als_model = als.fit(ratings)
            d = int(model.factors)
            users = _factor_matrix(als_model.userFactors, matrix.shape[0], d)
            items = _factor_matrix(als_model.itemFactors, matrix.shape[1], d)
        except Exception as exc:
            if watcher.cancelled:
                raise InterruptedError("the Spark fit was stopped") from None
            raise
        finally:
            last = watcher.stop()
        fit_seconds = time.perf_counter() - started
        self._fill(model, matrix, users, items)
        model._end_epoch(model.iterations, model.iterations, objective(model, matrix))
        model.history_[-1]["elapsed"] = fit_seconds
        context = spark.sparkContext
        self.model_, self.als_model_ = model, als_model
        self.engine_ = {"name": "spark", "version": spark.version, "master": context.master,
                        "default_parallelism": int(context.defaultParallelism),
                        "fit_seconds": round(fit_seconds, 3), "stages": last.stages_done,
                        "als": {k: v for k, v in als_params.items()}}
        return self

    @staticmethod
    def _fill(model: WALS, matrix: sp.csr_matrix, users: np.ndarray, items: np.ndarray) -> None:
        """Set the learned state a fitted WALS has (what its fit would have set)."""
        n_items = matrix.shape[1]
        user_counts = np.diff(matrix.indptr)
        item_counts = np.bincount(matrix.indices, minlength=n_items)
        model.user_count_mean_ = float(user_counts[user_counts > 0].mean())
        model.item_count_mean_ = float(item_counts[item_counts > 0].mean())
        model.item_frequency_factor_ = np.ones(n_items, dtype=np.float32)
        model.item_cold_ = item_counts == 0
        model.item_imputed_ = np.zeros(n_items, dtype=bool)
        model.user_embeddings_, model.item_embeddings_ = users, items
        model._column_cache = None


def objective(model: WALS, matrix: sp.csr_matrix) -> dict[str, float]:
    """The terms of the WALS objective (= Spark's, for an :func:`equivalent_wals` model) at the
    model's factors: ``observed``, ``unobserved``, ``regularization``, ``total`` (sums)."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    weights = sp.csr_matrix((model._confidence(matrix.data), matrix.indices, matrix.indptr),
                            shape=matrix.shape)
    counts_t = np.bincount(matrix.indices, minlength=matrix.shape[1])
    row_reg = model._row_regularization(np.diff(matrix.indptr), matrix.shape[1])
    col_reg = model._row_regularization(counts_t, matrix.shape[0])
    return WALS._losses(weights, model.user_embeddings_, model.item_embeddings_, row_reg, col_reg,
                        float(model.unobserved_weight))


# ---------------------------------------------------------------------- evaluation
def spark_ranking_metrics(spark, model, test: sp.csr_matrix, k: int = 10) -> dict[str, float]:
    """Spark's ``RankingMetrics`` of the model's top-k (training items excluded) on every user
    with test items: ``spark_ndcg@k``, ``spark_precision@k``, ``spark_recall@k``,
    ``spark_map@k``."""
    from pyspark.mllib.evaluation import RankingMetrics

    users = np.flatnonzero(np.diff(test.indptr)).astype(np.int64)
    recs = top_k_frame(spark, model.user_embeddings_, model.item_embeddings_, model.seen_, k,
                       users=users)
    predicted = recs.groupBy("user").agg(_sorted_items()).withColumnRenamed("items", "predicted")
    relevant = [test.indices[test.indptr[u]:test.indptr[u + 1]].astype(np.int64).tolist()
                for u in users]
    truth = pd.DataFrame({"user": users, "relevant": relevant})
    joined = predicted.join(spark.createDataFrame(truth), "user")
    pairs = joined.rdd.map(lambda row: (list(row.predicted), list(row.relevant)))
    metrics = RankingMetrics(pairs)
    return {f"spark_ndcg@{k}": float(metrics.ndcgAt(k)),
            f"spark_precision@{k}": float(metrics.precisionAt(k)),
            f"spark_recall@{k}": float(metrics.recallAt(k)),
            f"spark_map@{k}": float(metrics.meanAveragePrecisionAt(k))}


def _sorted_items():
    from pyspark.sql import functions as F

    # items in rank order: sort the (rank, item) structs, keep the items
    return F.expr("transform(array_sort(collect_list(struct(rank, item))), x -> x.item)") \
        .alias("items")


# ---------------------------------------------------------------------- serving
def top_k_frame(spark, user_embeddings: np.ndarray, item_embeddings: np.ndarray,
                seen: sp.csr_matrix | None, k: int, *, users=None, user_ids=None, item_ids=None,
                batch: int = 1024):
    """Top-k items by dot product for users, computed on the cluster (a blocked cross join).

    The item factors are broadcast; each task scores a block of users against all items with
    NumPy, drops the user's ``seen`` items and keeps the k best. Returns a Spark DataFrame of
    ``user``, ``item``, ``rank`` (1-based), ``score``; ``user`` and ``item`` are indices, or the
    raw ids when ``user_ids`` / ``item_ids`` (arrays by index) are given.
    """
    users = (np.arange(len(user_embeddings), dtype=np.int64) if users is None
             else np.asarray(users, dtype=np.int64))
    n_items = len(item_embeddings)
    k = int(min(k, n_items))
    seen = sp.csr_matrix((0, n_items)) if seen is None else seen.tocsr()
    table = pd.DataFrame({
        "user": users,
        "factors": list(np.asarray(user_embeddings, np.float32)[users]),
        "seen": [seen.indices[seen.indptr[u]:seen.indptr[u + 1]].astype(np.int64)
                 if u < seen.shape[0] else np.zeros(0, np.int64) for u in users]})
    context = spark.sparkContext
    items_b = context.broadcast(np.ascontiguousarray(item_embeddings, dtype=np.float32))
    uid_b = context.broadcast(None if user_ids is None else np.asarray(user_ids))
    iid_b = context.broadcast(None if item_ids is None else np.asarray(item_ids))

    def id_type(ids):
        return "bigint" if ids is None or np.asarray(ids).dtype.kind in "iu" else "string"

    schema = f"user {id_type(user_ids)}, item {id_type(item_ids)}, rank int, score float"

    def score_blocks(frames):
        items = items_b.value
        for frame in frames:
            for start in range(0, len(frame), batch):
                part = frame.iloc[start:start + batch]
                scores = np.stack(part["factors"].to_numpy()).astype(np.float32) @ items.T
                for row, seen_items in enumerate(part["seen"]):
                    scores[row, np.asarray(seen_items, dtype=np.int64)] = -np.inf
                top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
                top_scores = np.take_along_axis(scores, top, 1)
                order = np.argsort(-top_scores, axis=1, kind="stable")
                top, top_scores = (np.take_along_axis(a, order, 1) for a in (top, top_scores))
                keep = np.isfinite(top_scores)
                rows, ranks = np.nonzero(keep)
                user = part["user"].to_numpy()[rows]
                item = top[keep]
                uids, iids = uid_b.value, iid_b.value
                yield pd.DataFrame({
                    "user": user if uids is None else uids[user],
                    "item": item if iids is None else iids[item],
                    "rank": (ranks + 1).astype(np.int32),
                    "score": top_scores[keep].astype(np.float32)})

    n_parts = max(1, min(context.defaultParallelism * 2, len(table) // 256 + 1))
    frame = spark.createDataFrame(table, "user bigint, factors array<float>, seen array<bigint>")
    return frame.repartition(n_parts).mapInPandas(score_blocks, schema)


def spark_recommend(run, output: str, k: int = 20, *, users=None, master: str = DEFAULT_MASTER,
                    spark=None) -> int:
    """Write the top-k of a run (its training items excluded) for ``users`` (indices; default
    every user) as Parquet at ``output`` (a local path or any Hadoop-compatible URI, which must not
    exist). Returns the number of rows written. The run's model must score by the dot product of
    its embeddings (WALS, whether trained on Spark or not, and other models without biases)."""
    model = run.model
    if getattr(model, "user_bias_", None) is not None or getattr(model, "item_bias_", None) \
            is not None or not hasattr(model, "user_embeddings_"):
        raise HyperparameterError(f"recommend --engine spark scores by the dot product of the "
                                  f"embeddings; a {model.kind} run scores otherwise: use the "
                                  "local recommend")
    text = str(output)
    if ("://" not in text or text.startswith("file://")) and \
            Path(text.removeprefix("file://")).exists():
        from ..errors import PersistenceError

        raise PersistenceError(f"{output} exists already; refusing to overwrite it "
                               "(choose another --output)")
    spark = spark or spark_session(master)
    frame = top_k_frame(spark, model.user_embeddings_, model.item_embeddings_, model.seen_, k,
                        users=users, user_ids=run.user_ids, item_ids=run.item_ids)
    frame = frame.cache()
    try:
        frame.write.mode("errorifexists").parquet(str(output))
        return frame.count()
    finally:
        frame.unpersist()


# ---------------------------------------------------------------------- the whole command
def train_run(data: str, out: str | Path, params: dict | None = None, *,
              master: str = DEFAULT_MASTER, holdout: float = 0.0, seed: int = 0, k: int = 10,
              sample: int = 10_000, items_path: str | None = None, spark=None,
              callback=None, log: Callable[[str], None] = print):
    """Read ratings, fit on Spark, evaluate (with a holdout) and save the run folder ``out``.

    With ``holdout`` > 0, each user's share of ratings is held out (our
    :func:`~recsys_core.evaluation.split.holdout_split`); our metrics are computed on a sample of
    at most ``sample`` test users (seeded) and Spark's RankingMetrics on every test user.
    Returns the saved :class:`~recsys_core.runs.store.RunInfo`.
    """
    from ..errors import PersistenceError
    from .store import RunStore, check_run_name

    out = Path(out)
    check_run_name(out.name)
    if out.exists():
        raise PersistenceError(f"{out} exists already; refusing to overwrite it "
                               "(choose another --out)")
    if not 0.0 <= holdout < 1.0:
        raise HyperparameterError(f"--holdout must be in [0, 1), got {holdout}")
    trainer = SparkWALS(**{**SPARK_DEFAULTS, **(params or {})}, master=master, spark=spark)
    trainer.wals()  # bad hyperparameters fail before Spark starts
    spark = spark or spark_session(master)
    trainer.spark = spark
    dataset = read_ratings(data, spark, items_path)
    log(f"{dataset.name}: {dataset.n_users} users, {dataset.n_items} items, "
        f"{dataset.n_ratings} ratings; Spark {spark.version} on {spark.sparkContext.master}")
    split, train = None, dataset
    if holdout > 0:
        from ..evaluation.split import holdout_split, require_test_ratings

        split = require_test_ratings(holdout_split(dataset, holdout, seed))
        train = split.train
        log(f"split: {split.name}: {train.n_ratings} train, {split.test.n_ratings} test ratings")
    als_text = ", ".join(f"{k}={v}" for k, v in spark_als_params(trainer.wals()).items())
    log(f"training on Spark: ALS({als_text})")
    trainer.fit(train, callback=callback)
    model = trainer.model_
    final = {k: v for k, v in model.history_[-1].items() if k not in ("epoch", "elapsed")}
    log(f"trained in {trainer.engine_['fit_seconds']:.2f} s ({trainer.engine_['stages']} Spark "
        "stages); objective: " + ", ".join(f"{k} {v:.6g}" for k, v in final.items()))
    metrics = {}
    engine = dict(trainer.engine_)
    if split is not None:
        from ..evaluation.metrics import evaluate_model

        test = split.test.ratings
        users = sample_users(test, sample, seed)
        metrics = evaluate_model(model, split.test, k=k, users=users)
        engine["metrics_sample_users"] = int(len(users))
        engine["metrics_sample_seed"] = int(seed)
        log(f"our metrics on {len(users)} sampled test users (seed {seed}), k={k}:")
        log("\n".join(f"  {n:<22} {v:.4f}" for n, v in metrics.items()))
        spark_metrics = spark_ranking_metrics(spark, model, test, k)
        engine["spark_metrics_users"] = int(np.count_nonzero(np.diff(test.indptr)))
        log(f"Spark RankingMetrics on all {engine['spark_metrics_users']} test users:")
        log("\n".join(f"  {n:<22} {v:.4f}" for n, v in spark_metrics.items()))
        metrics.update(spark_metrics)
    info = RunStore(out.parent).save(model, dataset, name=out.name, split=split, metrics=metrics,
                                     exact_name=True, engine=engine)
    log(f"saved run {info.path}")
    return info
