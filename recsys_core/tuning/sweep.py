"""Hyperparameter sweeps: fit, validate and save one run per setting; resumable, cancellable.

A :class:`Sweep` searches 1-3 hyperparameters of one model kind (grid, random, or Optuna's TPE
sampler) for the best value of a metric on a **validation split carved from the training data
only**: given the dataset and optionally the run's train/test split, it holds out
``validation_fraction`` of each user's *training* ratings (:func:`holdout_split` of the training
part) and fits every trial on the rest. When the run's split is a global temporal split, the
validation split is temporal too: the last ``validation_fraction`` of the training period
(:func:`~recsys_core.evaluation.split.validation_split`), so no rating after the validation
cut-off, let alone the test one, informs the choice. The test split is never passed to a trial; it is evaluated
once, by :meth:`Sweep.refit_best`, after the search.

With ``folds`` K > 1, each trial is fitted and scored on K such validation splits (the same
per-user holdout of the training data, drawn with K seeds: :func:`fold_seeds`; the first is the
K = 1 split; after a temporal split, the validation window moved back in time, fold by fold) and
its value is the mean over the folds, less noisy than one split's score, at the
cost of K fits a trial. The per-fold values are kept in the trial's record.

Iterative models are scored on the validation split after every epoch and stopped early when the
metric has not improved for ``patience`` epochs; a trial's value is its best epoch's, and the refit
trains for that many epochs. With folds, the first fold stops early as above and the others train
as many epochs; the trial's curve is the fold mean per epoch, and its best epoch is the mean's. A
model class with ``sweep_early_stopping = False`` (WALS: each sweep solves its rows exactly, so the
metric levels off instead of falling) is scored once, after its
planned epochs, and refitted with as many: its best epoch on a noisy plateau is often an early
one, too few for the refit on more data (``benchmarks/bench_tune.py``), and scoring every epoch
costs more than the fit.

State lives in a folder (``<run store>/.sweeps/<name>/``, hidden from the run list): ``sweep.json``
(the settings and the data's fingerprints) and ``trials/<n>.json`` (one record per finished trial,
naming its run), each written atomically. A new :class:`Sweep` on the same folder with the same
settings skips the recorded trials and continues. Each trial is saved as an ordinary run whose
``run.json`` has a ``sweep`` field (``name``, ``trial``, the validation split). A cancel (a
``threading.Event``) stops the fit in progress, which is then discarded: only complete trials are
saved. One run of a sweep at a time: a second session or process resuming it while it runs gets
:class:`~recsys_core.errors.SweepBusyError` (a lock file, ``running.lock``, held while it runs).
"""
from __future__ import annotations

import contextlib
import json
import math
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..data.dataset import Dataset
from ..errors import HyperparameterError, PersistenceError, ScoresNotRatingsError, SweepBusyError
from ..evaluation.metrics import Validation, evaluate_model
from ..evaluation.split import require_test_ratings, validation_split
from ..models import trainable_models
from ..persistence import atomic_write_bytes, json_bytes
from ..runs.store import RunInfo, RunStore, check_run_name
from .space import Dimension, check_dimensions, default_dimensions

STRATEGIES = ("tpe", "random", "grid")
SWEEP_FORMAT = "recsys-studio-sweep/1"
#: Metrics that are better when lower.
LOWER_IS_BETTER = ("rmse", "mae")
#: Metrics of rating estimates: a model whose scores only rank (``predicts_ratings`` False)
#: has none, so a sweep for them refuses it.
RATING_METRICS = ("rmse", "mae")
#: Hyperparameters that count epochs: early stopping's best epoch becomes their value at refit.
EPOCH_PARAMETERS = ("iterations", "epochs")
try:  # POSIX: an advisory lock per open file, released by the OS when its holder exits
    import fcntl

    def _lock_file(handle):
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock_file(handle):
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
except ImportError:  # Windows
    import msvcrt

    def _lock_file(handle):
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock_file(handle):
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

_METRIC = re.compile(r"^(precision|recall|ndcg|map|hit_rate)@([1-9][0-9]{0,3})$|^(rmse|mae)$")


def parse_metric(metric: str) -> tuple[str, int, bool]:
    """``"ndcg@10"`` -> (metric key, list length k, higher is better)."""
    m = _METRIC.match(str(metric).strip().lower())
    if not m:
        raise HyperparameterError(f"unknown metric {metric!r}: expected precision@k, recall@k, "
                                  "ndcg@k, map@k, hit_rate@k, rmse or mae")
    if m.group(3):
        return m.group(3), 10, False
    return f"{m.group(1)}@{m.group(2)}", int(m.group(2)), True


@dataclass
class Trial:
    """One finished trial: its setting, validation value and saved run.

    Attributes
    ----------
    number : int (0-based order of the search)
    params : dict of the tuned hyperparameters
    value : float, the metric on the validation split (at the best epoch)
    metrics : dict of every validation metric at the end of the fit
    best_epoch : int or None, the epoch of ``value`` for iterative models
    epochs : int, epochs trained (fewer than planned when stopped early)
    seconds : float, fit and validation time (all folds)
    run : str or None, the name of the trial's run
    fold_values : list of float or None
        With K > 1 folds: the metric on each fold (at the best epoch of the fold mean), whose
        mean is ``value``; None for one fold.
    """

    number: int
    params: dict
    value: float
    metrics: dict = field(default_factory=dict)
    best_epoch: int | None = None
    epochs: int = 0
    seconds: float = 0.0
    run: str | None = None
    fold_values: list | None = None


#: Most validation folds a sweep may average over.
MAX_FOLDS = 10
#: Folds of a sweep started from the command line (``tune --folds``) or the Tune page, chosen in
#: benchmarks/bench_tune.py without test: of the K whose 30-trial WALS sweeps on ml-100k used
#: under 50 CPU s (the slowest of 5: K = 1 20 s, 2 32 s, 3 58-63 s in two runs; 12-39 s, 14-60 s
#: and 21-29 s wall on a shared machine), the one whose chosen settings score best on fresh
#: validation folds (NDCG@10, mean of 5 search seeds: K = 1 0.2826, 2 0.2842, 3 0.2844).
DEFAULT_FOLDS = 2


def fold_seeds(seed: int, folds: int) -> list[int]:
    """Seeds of a sweep's ``folds`` validation splits: ``seed`` itself first (so one fold is the
    split a sweep always used), then seeds drawn from (seed, fold), which other sweeps' seeds do
    not share (seed + 1 would be the next sweep's first fold)."""
    return [int(seed)] + [int(np.random.SeedSequence([int(seed), f]).generate_state(1)[0])
                          for f in range(1, folds)]


def sweep_folder(store: RunStore, name: str) -> Path:
    """Where the state of sweep ``name`` lives in a run store."""
    return Path(store.root) / ".sweeps" / check_run_name(name)


def saved_sweeps(store: RunStore) -> list[str]:
    """Names of the sweeps whose state is kept in ``store``, newest first."""
    root = Path(store.root) / ".sweeps"
    if not root.is_dir():
        return []
    folders = [f for f in root.iterdir() if (f / "sweep.json").is_file()]
    return [f.name for f in sorted(folders, key=lambda f: f.stat().st_mtime, reverse=True)]


class Sweep:
    """A search over 1-3 hyperparameters of one model kind; see the module docstring.

    Parameters
    ----------
    store : RunStore
        Where the trials' runs and the sweep's state folder go.
    name : str
        The sweep's name (run-name characters); trials are saved as ``<name>-t<n>``.
    model : str
        Model kind (``trainable_models()``).
    dimensions : sequence of Dimension, or None
        1 to 3 tuned hyperparameters; None = the model's default search space
        (:func:`~recsys_core.tuning.space.default_dimensions`, given ``fixed_params``).
    strategy : "tpe", "random" or "grid"
    n_trials : int or None
        Most trials (the grid's size at most for "grid"); None = until ``budget_seconds``.
    budget_seconds : float or None
        No trial is started once the sweep's trials took this long (summed over restarts).
    metric : str
        Optimised on the validation split, e.g. "ndcg@10", "recall@20", "rmse".
    fixed_params : dict
        Other hyperparameters of every trial.
    validation_fraction : float
        Share of each user's training ratings held out for validation.
    seed : int
        Seeds the validation split and the sampler (same seed, same trials).
    patience : int or None
        Epochs without improvement before an iterative fit stops (None: never early).
    save_trials : bool
        Save each trial as a run (the default); off for benchmarks of the search alone.
    folds : int
        Validation splits each trial is scored on (1 to MAX_FOLDS); a trial's value is the mean
        over them (see the module docstring). 1: one split, as before folds existed.
    """

    def __init__(self, store: RunStore, name: str, model: str, dimensions, *,
                 strategy: str = "tpe", n_trials: int | None = 20,
                 budget_seconds: float | None = None, metric: str = "ndcg@10",
                 fixed_params: dict | None = None, validation_fraction: float = 0.2,
                 seed: int = 0, patience: int | None = 3, save_trials: bool = True,
                 folds: int = 1):
        models = trainable_models()
        if model not in models:
            raise HyperparameterError(f"unknown model kind {model!r}; expected one of "
                                      f"{', '.join(sorted(models))}")
        if strategy not in STRATEGIES:
            raise HyperparameterError(f"strategy must be one of {', '.join(STRATEGIES)}, "
                                      f"got {strategy!r}")
        if n_trials is None and budget_seconds is None:
            raise HyperparameterError("a sweep needs a budget: a number of trials or seconds")
        if n_trials is not None and (not isinstance(n_trials, int) or n_trials < 1):
            raise HyperparameterError(f"n_trials must be a positive integer, got {n_trials!r}")
        if budget_seconds is not None and not budget_seconds > 0:
            raise HyperparameterError(f"budget_seconds must be > 0, got {budget_seconds!r}")
        if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) \
                or not 1 <= folds <= MAX_FOLDS:
            raise HyperparameterError(f"folds must be an integer from 1 to {MAX_FOLDS}, "
                                      f"got {folds!r}")
        self.store = store
        self.name = check_run_name(name)
        self.model = model
        self.model_class = models[model]
        if dimensions is None:
            dimensions = default_dimensions(self.model_class, fixed_params)
        self.dimensions = check_dimensions(self.model_class, dimensions)
        self.strategy = strategy
        self.n_trials = n_trials
        self.budget_seconds = budget_seconds
        self.metric, self.k, self.higher_is_better = parse_metric(metric)
        self.fixed_params = dict(fixed_params or {})
        self.validation_fraction = float(validation_fraction)
        self.seed = int(seed)
        self.patience = patience
        self.save_trials = save_trials
        self.folds = int(folds)
        self.folder = sweep_folder(store, self.name)
        self.trials: list[Trial] = []
        self.data_record: dict = {}
        self._lock = threading.Lock()

    @classmethod
    def resume(cls, store: RunStore, name: str) -> "Sweep":
        """The sweep saved under ``name`` in ``store``, with its settings and finished trials
        (call :meth:`run` with the same data to continue it)."""
        path = sweep_folder(store, name) / "sweep.json"
        if not path.is_file():
            raise PersistenceError(f"no sweep named {name!r} in {store.root}")
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            sweep = cls(store, saved["name"], saved["model"],
                        [Dimension.from_json(d) for d in saved["dimensions"]],
                        strategy=saved["strategy"], n_trials=saved["n_trials"],
                        budget_seconds=saved["budget_seconds"], metric=saved["metric"],
                        fixed_params=saved["fixed_params"],
                        validation_fraction=saved["validation_fraction"], seed=saved["seed"],
                        patience=saved["patience"], folds=saved.get("folds", 1))
        except (ValueError, KeyError, TypeError) as exc:
            raise PersistenceError(f"{path}: damaged sweep record ({exc})") from None
        sweep.data_record = saved.get("data") or {}
        sweep._load_trials()
        return sweep

    # ------------------------------------------------------------------ state
    def settings(self) -> dict:
        """The settings that define the sweep (a restart must match them)."""
        return {"format": SWEEP_FORMAT, "name": self.name, "model": self.model,
                "dimensions": [d.to_json() for d in self.dimensions], "strategy": self.strategy,
                "n_trials": self.n_trials, "budget_seconds": self.budget_seconds,
                "metric": self.metric, "fixed_params": self.fixed_params,
                "validation_fraction": self.validation_fraction, "seed": self.seed,
                "patience": self.patience, "folds": self.folds}

    def _open(self, data_record: dict) -> None:
        """Create the state folder, or check it holds this sweep and load its finished trials."""
        record = {**self.settings(), "data": data_record}
        path = self.folder / "sweep.json"
        if path.exists():
            saved = json.loads(path.read_text(encoding="utf-8"))
            saved.setdefault("folds", 1)  # recorded before folds existed: one split
            if json.loads(json_bytes(record)) != saved:
                raise PersistenceError(f"{self.folder} holds a sweep with other settings or data; "
                                       "choose another sweep name")
        else:
            (self.folder / "trials").mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, json_bytes(record, indent=2, sort_keys=True))
        (self.folder / "trials").mkdir(parents=True, exist_ok=True)
        self._load_trials()

    def _load_trials(self) -> None:
        trials = []
        for file in sorted((self.folder / "trials").glob("*.json")):
            trials.append(Trial(**json.loads(file.read_text(encoding="utf-8"))))
        with self._lock:
            self.trials = sorted(trials, key=lambda t: t.number)

    def finished(self) -> bool:
        """Whether every planned trial is recorded (a sweep limited by time only never is)."""
        planned = self.planned_trials()
        return planned is not None and len(self.trials) >= planned

    def _record(self, trial: Trial) -> None:
        atomic_write_bytes(self.folder / "trials" / f"{trial.number:05d}.json",
                           json_bytes(asdict(trial), indent=2, sort_keys=True))
        with self._lock:
            self.trials.append(trial)

    # ------------------------------------------------------------------ search
    def grid(self) -> list[dict]:
        """Every setting of the grid strategy: per range ``round(n_trials ** (1/d))`` points
        (at least 2), every choice of a list."""
        n = self.n_trials or 64
        ranges = [d for d in self.dimensions if d.choices is None]
        fixed = int(np.prod([len(d.choices) for d in self.dimensions if d.choices is not None]))
        per_range = max(2, int(round((n / fixed) ** (1 / len(ranges))))) if ranges else 1
        axes = [d.grid(per_range) for d in self.dimensions]
        mesh = np.array(np.meshgrid(*[np.arange(len(a)) for a in axes], indexing="ij"))
        points = mesh.reshape(len(axes), -1).T
        return [{d.name: axes[j][i] for j, (d, i) in enumerate(zip(self.dimensions, p))}
                for p in points]

    def _random_params(self, number: int) -> dict:
        rng = np.random.default_rng([self.seed, number])
        return {d.name: d.from_unit(float(rng.random())) for d in self.dimensions}

    def _tpe_study(self):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        startup = min(10, max(3, (self.n_trials or 30) // 3))
        sampler = optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=startup)
        study = optuna.create_study(
            direction="maximize" if self.higher_is_better else "minimize", sampler=sampler)
        distributions = {d.name: d.optuna_distribution() for d in self.dimensions}
        for t in self.trials:  # a restarted sweep tells the sampler what it already knows
            study.add_trial(optuna.trial.create_trial(params=t.params, distributions=distributions,
                                                      value=t.value))
        return study, distributions

    def planned_trials(self) -> int | None:
        """Trials the sweep runs at most (None: only the time budget limits it)."""
        if self.strategy == "grid":
            size = len(self.grid())
            return size if self.n_trials is None else min(size, self.n_trials)
        return self.n_trials

    def best(self) -> Trial | None:
        """The best finished trial (ties: the earlier one)."""
        with self._lock:
            trials = list(self.trials)
        if not trials:
            return None
        sign = 1 if self.higher_is_better else -1
        return max(trials, key=lambda t: (sign * t.value, -t.number))

    def run(self, dataset: Dataset, split=None, *, cancel: threading.Event | None = None,
            on_trial: Callable[[Trial], None] | None = None) -> list[Trial]:
        """Run (or resume) the search; returns every finished trial, in order.

        Parameters
        ----------
        dataset : Dataset
            The data the runs are saved with.
        split : Split, optional
            The run's train/test split: trials only ever see (a part of) ``split.train``.
            Without it the whole dataset is the training data.
        cancel : threading.Event, optional
            Set it to stop: the fit in progress is discarded, finished trials stay.
        on_trial : callable(Trial), optional
            Called after each trial is recorded (from the calling thread).
        """
        with self._exclusive():
            return self._run(dataset, split, cancel or threading.Event(), on_trial)

    @contextlib.contextmanager
    def _exclusive(self):
        """Hold the sweep's lock file while it runs; :class:`SweepBusyError` when another session
        or process holds it. The operating system drops the lock when its holder exits, so a
        killed run never leaves the sweep locked."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "running.lock", "a+b") as handle:
            try:
                _lock_file(handle)
            except OSError:
                raise SweepBusyError(
                    f"sweep {self.name!r} is already running (in another session or process); "
                    "wait for it to finish or cancel it there, then resume it") from None
            try:
                yield
            finally:
                _unlock_file(handle)

    def _run(self, dataset, split, cancel, on_trial) -> list[Trial]:
        train = split.train if split is not None else dataset
        outer = None if split is None else split.params
        inners = [require_test_ratings(validation_split(train, outer, self.validation_fraction,
                                                        seed, fold=fold))
                  for fold, seed in enumerate(fold_seeds(self.seed, self.folds))]
        data = {"dataset": dataset.fingerprint,
                "split": None if split is None else split.fingerprint,
                "split_params": None if split is None else split.params,
                "validation": inners[0].fingerprint}
        if self.folds > 1:
            data["validation_folds"] = [inner.fingerprint for inner in inners]
        self._open(data)
        planned = self.planned_trials()
        grid = self.grid() if self.strategy == "grid" else None
        study, distributions = self._tpe_study() if self.strategy == "tpe" else (None, None)
        done = {t.number for t in self.trials}
        spent = sum(t.seconds for t in self.trials)
        number = 0
        while not cancel.is_set():
            if planned is not None and len(self.trials) >= planned:
                break
            if self.budget_seconds is not None and spent >= self.budget_seconds:
                break
            if grid is not None and number >= len(grid):
                break
            if number in done:
                number += 1
                continue
            ask = None
            if self.strategy == "grid":
                params = grid[number]
            elif self.strategy == "random":
                params = self._random_params(number)
            else:
                ask = study.ask(distributions)
                params = dict(ask.params)
            trial = self._run_trial(number, params, dataset, split, inners, cancel)
            if trial is None:  # cancelled mid-fit: nothing saved
                break
            if ask is not None:
                study.tell(ask, trial.value)
            self._record(trial)
            spent += trial.seconds
            done.add(number)
            number += 1
            if on_trial is not None:
                on_trial(trial)
        return list(self.trials)

    def _run_trial(self, number, params, dataset, split, inners, cancel) -> Trial | None:
        """Fit and score one setting on every validation fold; None when cancelled."""
        start = time.perf_counter()
        fits = []  # per fold: (model, {epoch: value}, final metrics)
        horizon = None  # epochs of the first fold: the later folds train as many
        for inner in inners:
            fit = self._fit_fold(params, inner, cancel, horizon)
            if fit is None:
                return None
            fits.append(fit)
            horizon = len(getattr(fit[0], "history_", [])) or None
        model, _, _ = fits[0]
        curves = [curve for _, curve, _ in fits]
        sign = 1 if self.higher_is_better else -1
        # The fold-mean curve over the epochs every fold reported; its first best epoch.
        epochs = sorted(set.intersection(*(set(c) for c in curves))) if curves[0] else []
        value, best_epoch = None, None
        for epoch in epochs:
            mean = math.fsum(c[epoch] for c in curves) / len(curves)
            if value is None or sign * mean > sign * value:
                value, best_epoch = mean, epoch
        per_fold = [m for _, _, m in fits]
        metrics = {k: math.fsum(m[k] for m in per_fold) / len(per_fold)
                   for k in per_fold[0] if all(k in m for m in per_fold)}
        if best_epoch is not None:
            fold_values = [c[best_epoch] for c in curves]
        else:  # scored once, after the fit
            fold_values = [float(m[self.metric]) for m in per_fold]
            value = math.fsum(fold_values) / len(fold_values)
        seconds = time.perf_counter() - start
        trial = Trial(number=number, params=params, value=value, metrics=metrics,
                      best_epoch=best_epoch, epochs=len(getattr(model, "history_", [])),
                      seconds=seconds, fold_values=fold_values if self.folds > 1 else None)
        if self.save_trials:  # the run is the first fold's fit; its metrics are fold means
            record = {"name": self.name, "trial": number, "metric": self.metric,
                      "value": trial.value, "validation": inners[0].params}
            if self.folds > 1:
                record.update(folds=self.folds, fold_values=fold_values)
            info = self.store.save(
                model, dataset, name=f"{self.name}-t{number:03d}", split=split,
                metrics={f"val_{k}": v for k, v in metrics.items()}, sweep=record)
            trial.run = info.name
        return trial

    def _fit_fold(self, params, inner, cancel, horizon):
        """Fit ``params`` on one fold's training part: (model, {epoch: validation value},
        validation metrics at the end), or None when cancelled. The first fold (``horizon``
        None) stops early after ``patience`` epochs without improvement; the others stop at
        ``horizon`` epochs."""
        model = self.model_class(**{**self.fixed_params, **params})
        model.validate_params()
        sign = 1 if self.higher_is_better else -1
        curve: dict[int, float] = {}
        best = {"value": None, "epoch": None}

        def callback(progress) -> bool:
            if cancel.is_set():
                return True
            value = progress.metrics.get(self.metric)
            if value is not None and np.isfinite(value):
                curve[progress.epoch] = float(value)
                if best["value"] is None or sign * value > sign * best["value"]:
                    best["value"], best["epoch"] = float(value), progress.epoch
            if horizon is not None:  # (a fit that ends there anyway is not told to stop)
                return horizon < progress.n_epochs and progress.epoch >= horizon
            return (self.patience is not None and progress.n_epochs > 1
                    and best["epoch"] is not None
                    and progress.epoch - best["epoch"] >= self.patience)

        per_epoch = getattr(self.model_class, "sweep_early_stopping", True)
        validation = Validation(inner.test, k=self.k) if per_epoch else None
        model.fit(inner.train, validation=validation, callback=callback)
        if cancel.is_set():
            return None
        if self.metric in RATING_METRICS and not model.predicts_ratings:
            raise ScoresNotRatingsError(
                f"cannot tune {self.model} for {self.metric}: its scores (with these settings) "
                f"rank items but are not rating estimates, so they have no {self.metric}; tune "
                "a ranking metric such as ndcg@10, or a model that predicts ratings (mf with "
                "objective=observed)")
        history = getattr(model, "history_", [])
        metrics = {k[4:]: v for k, v in (history[-1] if history else {}).items()
                   if k.startswith("val_")}
        if self.metric not in metrics:  # a model that reports no per-epoch validation
            metrics = evaluate_model(model, inner.test, k=self.k, beyond_accuracy=False)
            curve = {}
        return model, curve, metrics

    # ------------------------------------------------------------------ result
    def best_params(self) -> dict:
        """Every hyperparameter of the best trial (fixed ones included); an iterative model that
        peaked early gets its best epoch as its number of epochs."""
        best = self.best()
        if best is None:
            raise HyperparameterError(f"sweep {self.name!r} has no finished trial")
        params = {**self.fixed_params, **best.params}
        if best.best_epoch is not None:
            for name in EPOCH_PARAMETERS:
                if name in self.model_class.param_spec and name not in best.params:
                    params[name] = int(best.best_epoch)
        return params

    def history(self) -> list[dict]:
        """One row per finished trial: number, tuned values, validation value, epochs, seconds,
        run; with folds, the value on each fold (``"<metric> fold <f>"``)."""
        with self._lock:
            trials = sorted(self.trials, key=lambda t: t.number)
        rows = [{"trial": t.number, **t.params, self.metric: t.value, "best_epoch": t.best_epoch,
                 "seconds": round(t.seconds, 3), "run": t.run} for t in trials]
        if self.folds > 1:
            for row, t in zip(rows, trials):
                row.update({f"{self.metric} fold {f + 1}": v
                            for f, v in enumerate(t.fold_values or [])})
        return rows

    def refit_best(self, dataset: Dataset, split=None, *, name: str | None = None,
                   store: RunStore | None = None, exact_name: bool = False
                   ) -> tuple[RunInfo, dict]:
        """Fit the best setting on all the training data (``split.train``, or the whole dataset),
        evaluate it once on ``split.test`` when there is a split, and save it as a run whose
        ``sweep`` field holds the search history. Returns (RunInfo, test metrics)."""
        params = self.best_params()
        model = self.model_class(**params)
        train = split.train if split is not None else dataset
        model.fit(train)
        metrics = evaluate_model(model, split.test, k=self.k) if split is not None else {}
        best = self.best()
        info = (store or self.store).save(
            model, dataset, name=name or f"{self.name}-best", split=split, metrics=metrics,
            exact_name=exact_name,
            sweep={"name": self.name, "trial": None, "best_trial": best.number,
                   "metric": self.metric, "value": best.value, "settings": self.settings(),
                   "trials": self.history()})
        return info, metrics
