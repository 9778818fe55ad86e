"""Subcommands ``train``, ``recommend``, ``predict`` and ``evaluate``: models from the shell.

``train`` fits any model of :func:`~recsys_core.models.trainable_models` and saves it as a run
folder (:mod:`recsys_core.runs.store`); the other three load such a folder and work with the raw
user and item ids of the dataset it was trained on.
"""
from __future__ import annotations

import argparse
import dataclasses
import inspect
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..data.dataset import Dataset
from ..errors import DataError, HyperparameterError, PersistenceError, ScoresNotRatingsError
from ..models import TrainingProgress, trainable_models
from ..models.params import spec_lines
from ..runs.store import Run, RunStore, check_run_name, load_run
from ..serving.rerank import DIVERSITY_SIMILARITIES, RerankConfig

#: Header names accepted for the columns of ``--pairs``, ``--test`` and ``--users`` files
#: (compared lower-case without "_", "-" and spaces).
_COLUMN_NAMES = {
    "user": ("user", "userid", "uid"),
    "item": ("item", "itemid", "iid", "movie", "movieid"),
    "rating": ("rating", "score", "value"),
}


# ---------------------------------------------------------------------- registration
def register(subparsers) -> None:
    kinds = sorted(trainable_models())
    p = subparsers.add_parser(
        "train", help="train a model and save it as a run folder",
        description="Train a model on a dataset and save it as a run folder (model.npz, run.json, "
                    "ids.npz). Prints progress per epoch and the final losses; with --holdout "
                    "or --split temporal, also the metrics on the held-out ratings.",
        epilog=_model_kinds_text(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, metavar="PATH",
                   help="MovieLens folder (100K or latest) or a ratings CSV "
                        "(user,item[,rating[,timestamp]])")
    p.add_argument("--items", metavar="CSV",
                   help="items CSV for a ratings CSV: item,title[,year][,genres] (genres and "
                        "years feed the content model)")
    p.add_argument("--model", required=True, choices=kinds, metavar="KIND",
                   help="model kind: " + ", ".join(kinds))
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="settings",
                   help="a hyperparameter (repeatable), typed like the model's default; "
                        "e.g. --set factors=32 --set regularization=0.1")
    p.add_argument("--out", required=True, metavar="DIR", help="run folder to create (must not exist)")
    add_split_arguments(p, "report metrics on it")
    p.add_argument("--k", type=int, default=10, help="list length for the holdout metrics (default 10)")
    _add_max_users_argument(p)
    _add_engine_arguments(p, "train WALS with Spark MLlib's ALS (needs pyspark and Java 17; "
                             "--data may then also be Parquet or any Hadoop-compatible URI; "
                             "--set takes factors, iterations, regularization (Spark's "
                             "regParam), alpha, random_state)")
    p.set_defaults(func=train_command)

    p = subparsers.add_parser(
        "recommend", help="write top-k recommendations of a run as CSV",
        description="Write the top-k items for users of a trained run as CSV rows "
                    "user,item,rank,score (raw ids; each user's training items excluded).")
    p.add_argument("--run", required=True, metavar="DIR", help="run folder written by train")
    p.add_argument("--k", type=int, default=20, help="items per user (default 20)")
    p.add_argument("--users", metavar="FILE",
                   help="file with one raw user id per line (default: every user)")
    p.add_argument("--output", default="-", metavar="CSV", help="output file (default: stdout)")
    _add_rerank_arguments(p)
    _add_engine_arguments(p, "compute the lists on Spark and write them as Parquet to --output")
    p.set_defaults(func=recommend_command)

    p = subparsers.add_parser(
        "predict", help="score (user, item) pairs with a run",
        description="Write user,item,prediction for each pair of a CSV of user,item: the "
                    "predicted rating. Runs whose scores only rank items (WALS, EASE, MF with "
                    "its default weighted objective, ...) are refused: use recommend for them.")
    p.add_argument("--run", required=True, metavar="DIR", help="run folder written by train")
    p.add_argument("--pairs", required=True, metavar="CSV", help="CSV with user and item columns")
    p.add_argument("--output", default="-", metavar="CSV", help="output file (default: stdout)")
    p.set_defaults(func=predict_command)

    p = subparsers.add_parser(
        "evaluate", help="print ranking (and rating) metrics of a run on test ratings",
        description="Evaluate a run on held-out ratings (CSV of user,item[,rating]): top-k "
                    "metrics over the whole catalogue with training items excluded, plus RMSE/MAE "
                    "for models that predict ratings (a note says why others have none).")
    p.add_argument("--run", required=True, metavar="DIR", help="run folder written by train")
    p.add_argument("--test", required=True, metavar="CSV", help="held-out ratings: user,item[,rating]")
    p.add_argument("--k", type=int, default=10, help="list length (default 10)")
    p.add_argument("--relevance-threshold", type=float, default=None, metavar="RATING",
                   help="only test ratings at least this count as relevant (default: all)")
    _add_max_users_argument(p)
    _add_rerank_knobs(p.add_argument_group(
        "re-ranking", "with any of these, also print what re-ranking each user's list (from the "
        "model's best items, as recommend does) costs and buys on the same users: the metrics "
        "in model order and re-ranked, NDCG with the standard error of its paired change, and "
        "the fair group's exposure share, plain and position-discounted"))
    p.set_defaults(func=evaluate_command)


def add_split_arguments(p, then: str, seed_help: str = "seed of the holdout split (default 0)"
                        ) -> None:
    """``--holdout``, ``--split`` and ``--cutoff``: the test split of ``train`` and ``tune``
    (read back by :func:`split_from_args`); ``then`` says what the command does with it."""
    p.add_argument("--holdout", type=float, default=None, metavar="FRACTION",
                   help=f"hold out this share of the ratings as a test split and {then}: of "
                        "each user's ratings (the per-user random holdout), or with --split "
                        "temporal the latest ones (default 0: train on everything; 0.2 with "
                        "--split temporal)")
    p.add_argument("--split", choices=SPLIT_CHOICES, default=None,
                   help="holdout (default): a random share of each user's ratings; temporal: "
                        "the global temporal split, training on every rating before one cut-off "
                        "time and testing on those at or after it (test ratings of users or "
                        "items first seen after it are dropped and counted)")
    p.add_argument("--cutoff", metavar="TIME",
                   help="cut-off of --split temporal (implied): an ISO date such as 1998-03-01 "
                        "(UTC), a date-time, or epoch seconds; instead of --holdout")
    p.add_argument("--seed", type=int, default=0, help=seed_help)


#: Values of ``--split``.
SPLIT_CHOICES = ("holdout", "temporal")


def check_split_arguments(args) -> None:
    """Refuse split options that do not go together, before any data is read."""
    from ..evaluation.split import parse_time

    method = args.split or ("temporal" if args.cutoff is not None else "holdout")
    if args.holdout is not None and not 0.0 <= args.holdout < 1.0:
        raise HyperparameterError(f"--holdout must be in [0, 1), got {args.holdout}")
    if method == "holdout" and args.cutoff is not None:
        raise HyperparameterError("--cutoff is the cut-off time of --split temporal, not of the "
                                  "per-user holdout")
    if method == "temporal":
        if args.cutoff is not None and args.holdout:
            raise HyperparameterError("give --split temporal a --cutoff time or a --holdout "
                                      "share, not both")
        if args.holdout == 0:
            raise HyperparameterError("--split temporal needs a test share: --holdout must be "
                                      "in (0, 1)")
        if args.cutoff is not None:
            parse_time(args.cutoff)
    args.split = method


def split_from_args(args, dataset):
    """The test split the options ask for (after :func:`check_split_arguments`), or None to
    train on everything."""
    from ..evaluation.split import holdout_split, require_test_ratings, temporal_split

    if args.split == "temporal":
        return require_test_ratings(temporal_split(
            dataset, test_fraction=None if args.cutoff is not None else (args.holdout or 0.2),
            cutoff=args.cutoff))
    if args.holdout:
        return require_test_ratings(holdout_split(dataset, args.holdout, args.seed))
    return None


def _add_max_users_argument(p) -> None:
    from ..evaluation.metrics import EVALUATION_SAMPLE_SEED, EVALUATION_SAMPLE_USERS

    p.add_argument("--max-users", type=int, default=EVALUATION_SAMPLE_USERS, metavar="N",
                   help=f"average the metrics over every test user when there are at most N, "
                        f"else over a fixed sample of N of them (seed {EVALUATION_SAMPLE_SEED}), "
                        f"as the app does (default {EVALUATION_SAMPLE_USERS:,}; 0: every user)")


def _evaluate(model, test, args, **kwargs) -> tuple[dict, str]:
    """(metrics, whom they average over) of ``model`` on ``test`` (Dataset or CSR), following
    --max-users: the same fixed sample as the app's runs."""
    import sys

    from ..evaluation.metrics import evaluate_sample, evaluation_note

    if args.max_users < 0:
        raise HyperparameterError(f"--max-users must be >= 0, got {args.max_users}")
    metrics = evaluate_sample(model, test, k=args.k, max_users=args.max_users or sys.maxsize,
                              **kwargs)
    return metrics, evaluation_note(metrics)


def _add_engine_arguments(p, spark_help: str) -> None:
    """``--engine local|spark`` and ``--master`` (see :mod:`recsys_core.runs.spark`)."""
    p.add_argument("--engine", choices=("local", "spark"), default="local",
                   help=f"where to compute (default local); spark: {spark_help}")
    p.add_argument("--master", default="local[*]", metavar="URL",
                   help="Spark master with --engine spark: local[*] (default), local[2], "
                        "spark://host:7077, yarn, ...")


# ---------------------------------------------------------------------- train
def _model_kinds_text() -> str:
    """Each model kind with the first line of its class docstring and, from its ``param_spec``,
    every hyperparameter: ``name=default (allowed values) help``."""
    lines = ["model kinds and their hyperparameters for --set NAME=VALUE "
             "(name=default (allowed values) help):"]
    for kind, cls in sorted(trainable_models().items()):
        summary = (inspect.getdoc(cls) or "").split("\n")[0]
        lines.append(f"  {kind:<11} {summary}")
        for line in spec_lines(cls):
            lines += textwrap.wrap(line, width=96, initial_indent=" " * 6,
                                   subsequent_indent=" " * 10)
    return "\n".join(lines)


def parse_settings(model_class, settings: list[str]) -> dict:
    """``["name=value", ...]`` -> hyperparameters, each parsed and checked by the model's
    ``param_spec`` (:meth:`recsys_core.models.params.Param.parse`: booleans as true/false/yes/no,
    ``none`` where None is allowed, sequences comma-separated).

    Raises :class:`HyperparameterError` for an unknown name (listing the valid ones) or a value
    the spec refuses (naming the allowed range or choices).
    """
    spec = model_class.param_spec
    params = {}
    for setting in settings:
        name, sep, raw = setting.partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep or not name:
            raise HyperparameterError(f"--set expects NAME=VALUE, got {setting!r}")
        if name not in spec:
            raise HyperparameterError(
                f"{model_class.kind} has no hyperparameter {name!r}; valid names: "
                + ", ".join(spec))
        try:
            params[name] = spec[name].parse(name, raw)
        except HyperparameterError as exc:
            raise HyperparameterError(f"--set {name}={raw}: {exc}") from None
    return params


def load_data(path: str | Path, items_path: str | Path | None = None) -> Dataset:
    """A MovieLens folder, or a ratings CSV with an optional items CSV (format detected)."""
    from ..data.discovery import load_dataset

    return load_dataset(path, items_path)


def _print_progress(progress: TrainingProgress) -> None:
    if progress.n_epochs == 1 and not progress.losses and not progress.metrics:
        return  # one-shot models (popularity, content): "trained in" says it all
    parts = [f"{name} {value:.6g}" for name, value in progress.losses.items()]
    parts += [f"val {name} {value:.4f}" for name, value in progress.metrics.items()]
    print(f"epoch {progress.epoch}/{progress.n_epochs}  " + "  ".join(parts)
          + f"  ({progress.elapsed:.2f} s)", flush=True)


def _measures(metrics: dict) -> dict:
    """The metrics without the counts of users they average over (said in words instead)."""
    from ..evaluation.metrics import EVALUATED_USERS, TEST_USERS

    return {name: value for name, value in metrics.items()
            if name not in (EVALUATED_USERS, TEST_USERS)}


def _format_metrics(metrics: dict) -> str:
    width = max((len(name) for name in metrics), default=0)
    return "\n".join(f"  {name:<{width}}  {value:.4f}" for name, value in metrics.items())


def check_output_and_load(args) -> tuple[Path, Dataset]:
    """(run folder, dataset) of a command that saves a run (``train``, ``tune``): the run name,
    an existing folder and the holdout share are refused before the data is read and the model
    trained, not after."""
    out = Path(args.out)
    check_run_name(out.name)
    if out.exists():
        raise PersistenceError(f"{out} exists already; refusing to overwrite it (choose another --out)")
    check_split_arguments(args)
    dataset = load_data(args.data, args.items)
    print(f"{dataset.name}: {dataset.n_users} users, {dataset.n_items} items, "
          f"{dataset.n_ratings} ratings", flush=True)
    return out, dataset


def train_command(args) -> int:
    if args.engine == "spark":
        return _spark_train(args)
    cls = trainable_models()[args.model]
    params = parse_settings(cls, args.settings)
    out, dataset = check_output_and_load(args)
    split = split_from_args(args, dataset)
    train = dataset if split is None else split.train
    if split is not None:
        print(f"split: {split.describe()}; {train.n_ratings} train, {split.test.n_ratings} "
              "test ratings", flush=True)
    model = cls(**params)
    print(f"training {model!r}", flush=True)
    if hasattr(model, "cost_summary"):  # softmax, two-tower: say what the fit costs first
        print(f"expected: {model.cost_summary(train.n_users, train.n_items, train.n_ratings)} "
              "(a rough estimate for a 2-core machine)", flush=True)
    model.fit(train, callback=_print_progress)
    final = {k: v for k, v in (model.history_[-1] if model.history_ else {}).items()
             if k not in ("epoch", "elapsed") and not k.startswith("val_")}
    elapsed = model.history_[-1]["elapsed"] if model.history_ else 0.0
    print(f"trained in {elapsed:.2f} s" + ("; final losses: " + ", ".join(
        f"{k} {v:.6g}" for k, v in final.items()) if final else ""), flush=True)
    metrics = {}
    if split is not None:
        metrics, note = _evaluate(model, split.test, args)
        print(f"holdout metrics ({split.test.n_ratings} ratings, k={args.k}, on {note}):")
        print(_format_metrics(_measures(metrics)), flush=True)
        if not model.predicts_ratings:
            print("note: no RMSE/MAE: this model's scores rank items but are not rating estimates",
                  flush=True)
    info = RunStore(out.parent).save(model, dataset, name=out.name, split=split, metrics=metrics,
                                     exact_name=True)
    print(f"saved run {info.path}")
    return 0


def _non_default_options(args, ignore: tuple[str, ...]) -> list[str]:
    """The options of ``args`` (a parsed command) set away from their defaults, as flags."""
    from . import build_parser

    defaults = vars(build_parser().parse_args([args.command, "--run", "-"]))
    return [f"--{name.replace('_', '-')}" for name, value in vars(args).items()
            if name not in ignore and name in defaults and value != defaults[name]]


def _spark_train(args) -> int:
    from ..runs.spark import parse_settings as spark_settings, require_spark, train_run

    if args.model != "wals":
        raise HyperparameterError(f"--engine spark trains wals only, not {args.model}")
    params = spark_settings(args.settings)
    check_split_arguments(args)
    if args.split != "holdout":
        raise HyperparameterError("--engine spark evaluates on the per-user holdout only; "
                                  "train with --engine local for --split temporal")
    require_spark()
    train_run(args.data, args.out, params, master=args.master, holdout=args.holdout or 0.0,
              seed=args.seed, k=args.k, items_path=args.items,
              log=lambda line: print(line, flush=True))
    return 0


# ---------------------------------------------------------------------- reading id files
def _read_columns(path: str | Path, roles: tuple[str, ...], required: tuple[str, ...]):
    """Read a delimited file and find the columns of ``roles`` (by header, else by position).

    Returns (Table, {role: column name}).
    """
    from ..data.readers import read_table

    table = read_table(path, header="auto", header_names=_COLUMN_NAMES,
                       min_fields=len(required))
    columns = list(table.frame.columns)
    found = {}
    if table.header is not None:
        for role in roles:
            for col in columns:
                if _normalise(col) in _COLUMN_NAMES[role]:
                    found[role] = col
                    break
        missing = [r for r in required if r not in found]
        if missing:
            raise DataError(f"no {' or '.join(missing)} column in the header "
                            f"({', '.join(columns)})", path=path, line=1)
    else:
        found = dict(zip(roles, columns))
    if len(table.frame) == 0:
        raise DataError("no data lines", path=path)
    return table, found


def _normalise(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch not in " _-")


def _indices_of(run: Run, table, column: str, kind: str) -> np.ndarray:
    """Indices of the raw ids in ``column``; DataError naming the line of the first unknown one."""
    ids = run.user_ids if kind == "user" else run.item_ids
    lookup = pd.Series(np.arange(len(ids)), index=[str(x) for x in ids.tolist()])
    column_values = table.frame[column]
    raw = column_values.astype(str)
    if column_values.dtype.kind == "f":  # read_table parses numeric columns: 50.0 stands for 50
        integral = (np.isfinite(column_values) & (column_values == np.floor(column_values))
                    & (column_values.abs() < 2.0 ** 62))
        raw = raw.where(~integral, column_values.where(integral, 0).astype(np.int64).astype(str))
    if ids.dtype.kind == "i":  # "007" and "+7" name id 7, as in Dataset.user_indices
        digits = raw.str.fullmatch(r"\+?\d+")
        canonical = raw.str.lstrip("+").str.lstrip("0").replace("", "0")
        keys = raw.where(~digits, canonical)
    else:
        keys = raw
    index = keys.map(lookup)
    unknown = index.isna().to_numpy()
    if unknown.any():
        row = int(np.argmax(unknown))
        table.fail(f"unknown {kind} id '{raw.iloc[row]}' (not in the run's training data; "
                   f"{int(unknown.sum())} line(s) with unknown {kind} ids)", row, column)
    return index.to_numpy(dtype=np.int64)


def _read_user_file(path: str | Path, run: Run) -> np.ndarray:
    """User indices from a file with one raw id per line (an optional header line "user")."""
    from ..data.readers import read_table

    table = read_table(path, sep=",", header="auto", header_names={"user": _COLUMN_NAMES["user"]},
                       min_fields=1)
    if len(table.frame) == 0:
        raise DataError("lists no user ids", path=path)
    return _indices_of(run, table, table.frame.columns[0], "user")


def _write_csv(frame: pd.DataFrame, output: str) -> None:
    if output == "-":
        frame.to_csv(sys.stdout, index=False, float_format="%.6g")
        sys.stdout.flush()
        return
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False, float_format="%.6g")
    print(f"wrote {len(frame)} rows to {out}", file=sys.stderr)


# ---------------------------------------------------------------------- recommend
def _recommend_rows(run: Run, users: np.ndarray, k: int, args) -> pd.DataFrame:
    """Top-k rows (user, item, rank, score) in raw ids for the given user indices.

    ``args`` carries the parsed command line: any retrieval or re-ranking option (a knob away
    from its :class:`RerankConfig` default, a measure, ANN, ``--scorer``, ``--explain``) sends the
    users through the serving pipeline; otherwise the model's own top-k is written.
    """
    config = _rerank_config(args)
    if not config.is_neutral or args.measure or args.ann or args.scorer or args.explain:
        return _reranked_rows(run, users, k, config, args)
    items, scores = run.model.recommend(users, k, exclude_seen=True)
    valid = items >= 0
    rows, ranks = np.nonzero(valid)
    return pd.DataFrame({
        "user": run.user_ids[users[rows]],
        "item": run.item_ids[items[valid]],
        "rank": ranks + 1,
        "score": scores[valid],
    })


#: The re-ranking flags of ``recommend``: RerankConfig field -> (flag, argparse options, help).
#: Each flag's default is the field's default (see :func:`_add_rerank_arguments`), so the
#: command line cannot drift from the engine.
_RERANK_FLAGS = {
    "exclude_genres": ("--exclude-genres", {"metavar": "G1,G2"},
                       "leave out items of these genres"),
    "hide_disliked": ("--hide-disliked", {"type": float, "metavar": "T"},
                      "leave out items the user rated T or lower (reloads the run's dataset)"),
    "min_ratings": ("--min-ratings", {"type": int, "metavar": "N"},
                    "leave out items with fewer than N ratings"),
    "freshness_half_life": ("--freshness-half-life", {"type": float, "metavar": "YEARS"},
                            "boost recent releases: the score halves every YEARS of age"),
    "popularity_penalty": ("--popularity-penalty", {"type": float, "metavar": "B"},
                           "divide scores by (number of ratings)^B; 0 turns it off"),
    "diversity": ("--diversity", {"type": float, "metavar": "LAMBDA"},
                  "MMR lambda in [0, 1]: 1 keeps the score order, lower favours items unlike "
                  "those above"),
    "diversity_similarity": ("--diversity-similarity", {"choices": DIVERSITY_SIMILARITIES},
                             "how alike two items are for --diversity: their genres or the "
                             "cosine of their embeddings"),
    "max_per_genre": ("--max-per-genre", {"type": int, "metavar": "N"},
                      "at most N items of one genre"),
    "fair_group": ("--fair-group", {"metavar": "long-tail|GENRE"},
                   "item group with a minimum share of every prefix of each list (with "
                   "--fair-share)"),
    "fair_share": ("--fair-share", {"type": float, "metavar": "S"},
                   "minimum share of --fair-group in [0, 1] at every rank: the top n holds at "
                   "least floor(S n) group items, the whole list ceil(S k); a warning on stderr "
                   "counts the prefixes that fall short"),
    "head_share": ("--head-share", {"type": float, "metavar": "S"},
                   "share of the catalogue, by popularity, that is not long-tail"),
}
#: RerankConfig fields without a flag: ``recommend`` always hides seen items, and freshness
#: counts age from the catalogue's newest release.
_RERANK_FIELDS_WITHOUT_FLAG = ("hide_seen", "reference_year")


def _add_rerank_arguments(p) -> None:
    """Retrieval and re-ranking options of ``recommend`` (see :mod:`~recsys_core.serving.pipeline`)."""
    g = p.add_argument_group("retrieval and re-ranking")
    g.add_argument("--measure", choices=("dot", "cosine", "euclidean", "tempered"),
                   help="retrieve by this similarity of user and item embeddings instead of the "
                        "model's score")
    g.add_argument("--alpha", type=float, default=0.5,
                   help="exponent of the tempered measure, in [0, 1] (default 0.5)")
    g.add_argument("--ann", action="store_true",
                   help="approximate nearest-neighbour retrieval (faiss; dot unless --measure)")
    g.add_argument("--scorer", action="store_true",
                   help="nominate with the model, popularity and trending, and rank the pool with "
                        "a scoring model trained on the run's held-out ratings (runs trained "
                        "with --holdout; reloads the run's dataset)")
    _add_rerank_knobs(g)
    g.add_argument("--explain", action="store_true",
                   help="add the score breakdown: base score, freshness, popularity penalty, "
                        "final score and the rule that moved each item")


def _add_rerank_knobs(g) -> None:
    """One flag per :data:`_RERANK_FLAGS` knob, defaulting to the engine's default."""
    defaults = {f.name: f.default for f in dataclasses.fields(RerankConfig)}
    for name, (flag, options, text) in _RERANK_FLAGS.items():
        default = defaults[name]
        shown = f" (default {default})" if default not in (None, ()) else ""
        g.add_argument(flag, dest=name, default=default, help=text + shown, **options)


def _rerank_config(args) -> RerankConfig:
    """The RerankConfig the re-ranking flags describe."""
    if args.fair_share and not args.fair_group:
        raise HyperparameterError("--fair-share needs --fair-group (long-tail or a genre)")
    return RerankConfig(**{name: getattr(args, name) for name in _RERANK_FLAGS})


def _reranked_rows(run: Run, users: np.ndarray, k: int, config: RerankConfig, args
                   ) -> pd.DataFrame:
    from ..serving.pipeline import fit_scoring_stage, recommend_for_run, split_for_run

    stage = None
    if args.scorer:
        stage = fit_scoring_stage(run.model, split_for_run(run))
        print(f"scoring model ({stage.scorer.classifier_}) trained on {len(stage.fit_users)} "
              f"users' held-out ratings", file=sys.stderr)
        if stage.comparison:
            print(f"ranking on {len(stage.eval_users)} other users: " + ", ".join(
                f"{row['ranking by']} AUC {row['auc']:.3f}"
                for row in stage.comparison_table.to_dict("records")), file=sys.stderr)
    frame = recommend_for_run(run, users, k, config=config, measure=args.measure,
                              alpha=args.alpha, ann=args.ann, explain=args.explain, stage=stage)
    short = frame.attrs.get("group_target_unreachable", ())
    if len(short) and config.fair_group:
        print(fairness_shortage_warning(config, short, frame.attrs["group_prefixes_short"], k),
              file=sys.stderr)
    return frame


def fairness_shortage_warning(config: RerankConfig, users, prefixes_short, k: int) -> str:
    """The one-line warning for users whose lists cannot hold the fair group's share in every
    prefix: how many users (the first few raw ids) and how many of their prefixes fall short."""
    shown = ", ".join(map(str, list(users)[:5])) + (", ..." if len(users) > 5 else "")
    return (f"warning: the catalogue has too few {config.fair_group} items passing the filters "
            f"to keep {config.fair_share:.0%} of every prefix of the list for {len(users)} "
            f"user(s) ({shown}): {int(np.sum(prefixes_short))} prefixes of their lists (the "
            f"top 1 to the top {k}) fall short of the minimum "
            f"(floor({config.fair_share:g} n) in the top n)")


def recommend_command(args) -> int:
    if args.k < 1:
        raise HyperparameterError(f"--k must be >= 1, got {args.k}")
    run = load_run(args.run)
    users = (_read_user_file(args.users, run) if args.users
             else np.arange(len(run.user_ids), dtype=np.int64))
    if args.engine == "spark":
        from ..runs.spark import require_spark, spark_recommend

        if args.output == "-":
            raise HyperparameterError("recommend --engine spark writes Parquet: give --output DIR")
        reranking = _non_default_options(args, ("command", "func", "run", "users", "output", "k",
                                                "engine", "master"))
        if reranking:
            raise HyperparameterError("recommend --engine spark ranks by the model's scores only; "
                                      f"drop {', '.join(reranking)} or use the local engine")
        require_spark()
        rows = spark_recommend(run, args.output, args.k, users=users, master=args.master)
        print(f"wrote {rows} rows to {args.output}", file=sys.stderr)
        return 0
    if _batch_servable(run, args):
        from ..serving.batch import recommend_blocks, write_recommendations_csv

        index = None
        if args.ann:
            from ..retrieval.ann import ANNIndex

            index = ANNIndex(args.measure or "dot", args.alpha).fit(run.model.item_embeddings_)
        rows = write_recommendations_csv(recommend_blocks(run.model, users, args.k, ann=index),
                                         run.user_ids, run.item_ids, args.output)
        if args.output != "-":
            print(f"wrote {rows} rows to {args.output}", file=sys.stderr)
        return 0
    _write_csv(_recommend_rows(run, users, args.k, args), args.output)
    return 0


def _batch_servable(run: Run, args) -> bool:
    """Plain top-k lists (the model's score, or an ANN measure) go through the blocked, streamed
    batch path (:mod:`recsys_core.serving.batch`); re-ranking, an exact measure, the scorer and
    --explain need the per-user pipeline."""
    if not _rerank_config(args).is_neutral or args.scorer or args.explain:
        return False
    if args.ann:
        return getattr(run.model, "item_embeddings_", None) is not None
    return args.measure is None


# ---------------------------------------------------------------------- predict
#: How to train a run whose scores are rating estimates (said when one is refused).
RATING_MODELS_ADVICE = ("train one that predicts ratings on explicit ratings with "
                        "`--model mf --set objective=observed` (or the non-personalised "
                        "`--model popularity --set variant=mean-rating`)")


def _not_rating_estimates(run: Run) -> str:
    """What the run's scores are, for a refusal or a note: "run NAME (KIND): its scores rank
    items but are not rating estimates"."""
    return (f"run {run.info.name} ({run.info.model_kind}): its scores rank items but are not "
            "rating estimates")


def predict_command(args) -> int:
    run = load_run(args.run)
    if not run.model.predicts_ratings:
        raise ScoresNotRatingsError(f"{_not_rating_estimates(run)}; {RATING_MODELS_ADVICE}, "
                                    "or use `recommend` for ranked lists")
    table, columns = _read_columns(args.pairs, ("user", "item"), ("user", "item"))
    users = _indices_of(run, table, columns["user"], "user")
    items = _indices_of(run, table, columns["item"], "item")
    predictions = run.model.predict(users, items)
    _write_csv(pd.DataFrame({"user": run.user_ids[users], "item": run.item_ids[items],
                             "prediction": predictions}), args.output)
    return 0


# ---------------------------------------------------------------------- evaluate
def read_test_ratings(run: Run, path: str | Path) -> sp.csr_matrix:
    """Held-out ratings from a CSV as a CSR in the run's index space (implicit 1.0 without ratings).

    A repeated (user, item) pair keeps its last line.
    """
    table, columns = _read_columns(path, ("user", "item", "rating"), ("user", "item"))
    users = _indices_of(run, table, columns["user"], "user")
    items = _indices_of(run, table, columns["item"], "item")
    if "rating" in columns:
        from ..data.readers import parse_numbers

        values = parse_numbers(table, columns["rating"], "rating").astype(np.float32)
    else:
        values = np.ones(len(users), np.float32)
    n_users, n_items = len(run.user_ids), len(run.item_ids)
    key = users * n_items + items
    _, last_reversed = np.unique(key[::-1], return_index=True)
    keep = len(key) - 1 - last_reversed
    matrix = sp.csr_matrix((values[keep], (users[keep], items[keep])), shape=(n_users, n_items))
    matrix.sort_indices()
    return matrix


def evaluate_command(args) -> int:
    if args.k < 1:
        raise HyperparameterError(f"--k must be >= 1, got {args.k}")
    run = load_run(args.run)
    test = read_test_ratings(run, args.test)
    overlap = test.multiply(run.model.seen_).nnz
    metrics, note = _evaluate(run.model, test, args, item_genres=run.item_genres,
                              relevance_threshold=args.relevance_threshold)
    print(f"run {run.info.name} ({run.info.model_kind}) on {Path(args.test).name}: "
          f"{test.nnz} test ratings, k={args.k}, metrics over {note}")
    if overlap:
        print(f"note: {overlap} test pairs are also training pairs; recommendations exclude "
              "training items, so they can never be hit")
    print(_format_metrics(_measures(metrics)))
    if not run.model.predicts_ratings:
        print(f"note: no RMSE/MAE: {_not_rating_estimates(run)}")
    config = _rerank_config(args)
    if not config.is_neutral:
        _print_rerank_impact(run, test, config, args)
    return 0


def _print_rerank_impact(run: Run, test: sp.csr_matrix, config: RerankConfig, args) -> None:
    """Metrics of the model's lists and of the lists ``config`` re-ranks, on the users
    ``evaluate`` averaged over; a warning on stderr for users whose lists cannot hold the fair
    group's share in every prefix."""
    from ..evaluation.metrics import (_relevance_matrix, evaluate_recommendations,
                                      ranking_metrics_per_user, sample_users)
    from ..serving.pipeline import dataset_for_run, rerank_lists
    from ..serving.rerank import LONG_TAIL, group_mask, prefix_shortfalls

    k = args.k
    users = sample_users(test, args.max_users or sys.maxsize)
    data = dataset_for_run(run, with_ratings=config.hide_disliked is not None)
    before, _ = run.model.recommend(users, k, exclude_seen=True)
    after, results = rerank_lists(config, run.model, data, users, k=k)
    relevant = _relevance_matrix(test, args.relevance_threshold)[users]
    group = config.fair_group or LONG_TAIL
    mask = group_mask(data, group, config.head_share)
    shared = dict(n_items=data.n_items, item_genres=data.item_genres,
                  item_popularity=data.item_popularity, n_users=data.n_users, group_mask=mask,
                  item_embeddings=getattr(run.model, "item_embeddings_", None))
    old, new = (evaluate_recommendations(lists, relevant, k, **shared) for lists in (before, after))
    ndcg = f"ndcg@{k}"
    paired = (ranking_metrics_per_user(after, relevant, k)[ndcg]
              - ranking_metrics_per_user(before, relevant, k)[ndcg])
    paired = paired[np.isfinite(paired)]
    se = paired.std(ddof=1) / np.sqrt(len(paired)) if len(paired) > 1 else float("nan")
    names = {"group_exposure": f"{group} exposure share",
             "group_exposure_discounted": f"{group} exposure share, position-discounted"}
    rows = [(names.get(m, m), old[m], new[m]) for m in old if m in new]
    if config.fair_group is not None and config.fair_share > 0:
        rows.append((f"lists with {config.fair_share:.0%} {group} in every prefix",
                     *(float(np.mean(prefix_shortfalls(lists, mask, config.fair_share) == 0))
                       for lists in (before, after))))
    width = max(len(name) for name, _, _ in rows)
    print(f"re-ranked ({', '.join(_knob_flags(config))}) on the same {len(users):,} users:")
    print(f"  {'metric':<{width}}  {'model order':>11}  {'re-ranked':>9}  {'change':>8}")
    for name, a, b in rows:
        change = b - a
        line = f"  {name:<{width}}  {a:>11.4f}  {b:>9.4f}  {change:>+8.4f}"
        if name == ndcg and np.isfinite(se):
            line += f" (± {se:.4f} standard error of the paired change, {len(paired):,} users)"
        print(line)
    short = [(run.user_ids[u], r.group_prefixes_short) for u, r in zip(users, results)
             if r.group_target_reachable is False]
    if short:
        ids, counts = zip(*short)
        print(fairness_shortage_warning(config, ids, counts, k), file=sys.stderr)


def _knob_flags(config: RerankConfig) -> list[str]:
    """The re-ranking flags that set ``config`` away from the defaults, with their values."""
    defaults = RerankConfig()
    return [f"{flag} {','.join(value) if isinstance(value, tuple) else value}"
            for name, (flag, _, _) in _RERANK_FLAGS.items()
            if (value := getattr(config, name)) != getattr(defaults, name)]
