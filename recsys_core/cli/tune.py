"""Subcommand ``tune``: a hyperparameter sweep from the shell (:mod:`recsys_core.tuning`).

The search runs on a validation split carved from the training data; the best setting is refitted
on all the training data and saved as a run with the search history. With ``--holdout`` (or
``--split temporal``) the held-out test ratings are evaluated once, at the end; after a temporal
split the validation split is the latest part of the training period.
"""
from __future__ import annotations

import argparse

from ..errors import HyperparameterError
from ..models import trainable_models
from ..runs.store import RunStore
from ..tuning import (DEFAULT_FOLDS, MAX_FOLDS, STRATEGIES, Sweep, default_dimensions,
                      parse_dimension, parse_metric, tunable_names)
from .models import (_format_metrics, add_split_arguments, check_output_and_load,
                     parse_settings, split_from_args)


def register(subparsers) -> None:
    kinds = sorted(trainable_models())
    p = subparsers.add_parser(
        "tune", help="search hyperparameters and save the best setting as a run",
        description="Search 1-3 hyperparameters of a model (TPE, random or grid) for the best "
                    "validation metric on a split of the training data; print the trial table; "
                    "refit the best setting on all the training data and save it as a run with "
                    "the search history. Each trial is saved as a run <out>-t<n> beside it.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, metavar="PATH", help="MovieLens folder or ratings CSV")
    p.add_argument("--items", metavar="CSV", help="items CSV for a ratings CSV")
    p.add_argument("--model", required=True, choices=kinds, metavar="KIND",
                   help="model kind: " + ", ".join(kinds))
    p.add_argument("--param", action="append", default=[], metavar="SPEC", dest="params",
                   help="a tuned hyperparameter (1-3, repeatable): name (the model's default "
                        "range), name=low:high, name=low:high:log, or name=a,b,c; without "
                        "--param, the model's default search space (WALS: regularization, "
                        "unobserved_weight, factors)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="settings",
                   help="a fixed hyperparameter of every trial (repeatable)")
    p.add_argument("--trials", type=int, default=None, metavar="N", help="most trials")
    p.add_argument("--budget-seconds", type=float, default=None, metavar="S",
                   help="start no trial after this many seconds of trials")
    p.add_argument("--metric", default="ndcg@10",
                   help="metric optimised on the validation split (default ndcg@10)")
    p.add_argument("--strategy", choices=STRATEGIES, default="tpe",
                   help="tpe (Optuna's TPE sampler, default), random or grid")
    p.add_argument("--validation", type=float, default=0.2, metavar="FRACTION",
                   help="share of each user's training ratings used for validation (default "
                        "0.2); after --split temporal, the latest share of the training period")
    p.add_argument("--folds", type=int, default=DEFAULT_FOLDS, metavar="K",
                   help=f"score each trial as the mean over K validation splits of the training "
                        f"data (1-{MAX_FOLDS}, default {DEFAULT_FOLDS}; each costs a fit)")
    add_split_arguments(p, "evaluate it once after the search",
                        seed_help="seed of the splits and the sampler")
    p.add_argument("--out", required=True, metavar="DIR", help="run folder of the best setting")
    p.set_defaults(func=tune_command)


def tune_command(args) -> int:
    cls = trainable_models()[args.model]
    fixed = parse_settings(cls, args.settings)
    if not (args.params or tunable_names(cls)):
        raise HyperparameterError(f"{args.model} has no tunable hyperparameter")
    # Without --param: the model's default search space; ranges follow the fixed settings.
    dimensions = ([parse_dimension(cls, text, fixed) for text in args.params] if args.params
                  else default_dimensions(cls, fixed))
    parse_metric(args.metric)  # before the data is read
    if not 1 <= args.folds <= MAX_FOLDS:
        raise HyperparameterError(f"--folds must be from 1 to {MAX_FOLDS}, got {args.folds}")
    if args.trials is None and args.budget_seconds is None:
        raise HyperparameterError("give --trials N and/or --budget-seconds S")
    out, dataset = check_output_and_load(args)
    split = split_from_args(args, dataset)
    if split is not None:
        print(f"test split: {split.describe()} (evaluated once, after the search)", flush=True)
    store = RunStore(out.parent)
    sweep = Sweep(store, out.name, args.model, dimensions, strategy=args.strategy,
                  n_trials=args.trials, budget_seconds=args.budget_seconds, metric=args.metric,
                  fixed_params=fixed, validation_fraction=args.validation, seed=args.seed,
                  folds=args.folds)
    print(f"sweep {sweep.name}: {args.strategy}, " + "; ".join(d.describe() for d in
                                                             sweep.dimensions)
          + f"; validation {sweep.metric} on " + (
              f"the latest {args.validation:.0%} of the training period" if args.split == "temporal"
              else f"{args.validation:.0%} of each user's training ratings")
          + (f", mean of {sweep.folds} folds" if sweep.folds > 1 else ""), flush=True)
    names = [d.name for d in sweep.dimensions]
    header = ["trial", *names, f"val {sweep.metric}", "epoch", "s"]
    print("  ".join(f"{h:>12}" for h in header), flush=True)

    def show(trial):
        cells = [str(trial.number), *(_cell(trial.params[n]) for n in names),
                 f"{trial.value:.4f}", str(trial.best_epoch or "-"), f"{trial.seconds:.2f}"]
        print("  ".join(f"{c:>12}" for c in cells), flush=True)

    trials = sweep.run(dataset, split, on_trial=show)
    best = sweep.best()
    print(f"{len(trials)} trials; best: trial {best.number} " + ", ".join(
        f"{n}={_cell(best.params[n])}" for n in names) + f" ({sweep.metric} {best.value:.4f})",
        flush=True)
    info, metrics = sweep.refit_best(dataset, split, name=out.name, exact_name=True)
    if metrics:
        print(f"test metrics of the refitted best setting ({split.test.n_ratings} ratings):")
        print(_format_metrics(metrics), flush=True)
    print(f"saved run {info.path}")
    return 0


def _cell(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
