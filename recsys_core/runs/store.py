"""Saved training runs: a trained model with everything needed to serve and explain it later.

A run is a folder ``<root>/<name>/`` holding

* ``model.npz``: the model (:meth:`Recommender.save`, pickle-free);
* ``ids.npz``: raw user and item ids (int64 or unicode arrays), titles, the item genre matrix,
  genre names and release years, so recommendations can be shown without reloading the data;
* ``run.json``: name, model kind, hyperparameters, dataset name/source/fingerprint, split
  parameters and fingerprint, metrics, training history, creation time, library version and the
  cache key of the settings.

Runs are written to a hidden temporary folder and renamed into place, so a reader never sees a
half-written run, and a rename never replaces an existing run: two sessions saving under the same
name concurrently both succeed under different names. Nothing is loaded with pickle.

Everything read back is checked before use: ``run.json`` against a typed schema, and every array
of ``model.npz`` and ``ids.npz`` for shape and dtype against the run's metadata (its numbers of
users and items). :meth:`RunStore.scan` does these checks from the files' headers only, so a
damaged run is listed as such, with the reason, before anyone opens it. A run is known by its
folder name (a folder copied by hand keeps the old name inside ``run.json``).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..data.dataset import Dataset
from ..errors import (DamagedFileError, InvalidRunNameError, NotFittedError, PersistenceError,
                      RecsysError, RunNotFoundError)
from ..models.base import Recommender
from ..persistence import atomic_write_bytes, json_bytes, load_npz, npz_layout, save_npz
from ..version import __version__

#: Version of the run folder layout; runs with another value are refused with a clear message.
RUN_FORMAT = "recsys-studio-run/1"
MODEL_FILE = "model.npz"
IDS_FILE = "ids.npz"
INFO_FILE = "run.json"
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def run_cache_key(kind: str, params: dict, dataset_fingerprint: str | None,
                  split_params: dict | None) -> str:
    """Key (hex, 20 chars) identifying a training configuration, for reusing a finished run.

    Two trainings with the same model kind, hyperparameters, dataset content and split settings
    (and the same library version, since code changes can change results) get the same key.
    """
    payload = json.dumps({"kind": kind, "params": params, "dataset": dataset_fingerprint,
                          "split": split_params, "version": __version__},
                         sort_keys=True, default=_json_value)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def check_run_name(name) -> str:
    """``name`` if it can name a run folder, else :class:`InvalidRunNameError` saying why.

    A run name is 1-128 letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit
    (so it can never leave the store's folder). Call it before training, not only when saving.
    """
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise InvalidRunNameError(
            f"invalid run name {name!r}: use up to 128 letters, digits, '.', '_' and '-', "
            "starting with a letter or digit")
    return name


def safe_run_name(text: str) -> str:
    """A valid run name made from free text ("My WALS, 64 factors" -> "My-WALS-64-factors").

    Runs of characters other than letters, digits, ``.``, ``_`` and ``-`` become one ``-``;
    leading punctuation is dropped and the result is cut to 128 characters. Empty results give
    "run".
    """
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-")
    name = re.sub(r"^[._-]+", "", name)[:128].rstrip("-")
    return name or "run"


@dataclass(frozen=True)
class RunInfo:
    """What ``run.json`` records about one run.

    Attributes
    ----------
    name : str
        Folder name of the run inside its store.
    path : Path
        The run folder.
    model_kind : str
        ``Recommender.kind`` of the model ("wals", "popularity", ...).
    params : dict
        The model's hyperparameters.
    dataset : dict
        ``name``, ``source``, ``fingerprint``, ``n_users``, ``n_items``, ``n_ratings`` of the
        dataset the run was trained from (ids and titles come from it).
    split : dict or None
        ``params`` and ``fingerprint`` of the train/test split, None when trained on everything;
        runs saved with a Split also record its ``counts`` (``Split.counts()``: test ratings and
        the new users and items a temporal split could not score), which
        :func:`~recsys_core.evaluation.split.describe_split` puts into words.
    metrics : dict of str -> float
        Evaluation results (e.g. on the split's test set).
    history : list of dict
        The model's per-epoch ``history_``.
    created : str
        ISO-8601 UTC time the run was saved.
    library_version : str
    cache_key : str
        :func:`run_cache_key` of the run's settings.
    train_fingerprint : str or None
        Fingerprint of the matrix the model was actually fitted on (the split's train part).
    engine : dict or None
        Where the model was trained when not in this process: ``name`` ("spark"), ``version``,
        ``master``, ... (:mod:`recsys_core.runs.spark`); None for a local fit.
    sweep : dict or None
        The hyperparameter sweep the run belongs to (:mod:`recsys_core.tuning`): ``name`` and
        ``trial`` (its number; None for the refit of the best setting, which also holds the
        search history in ``trials``); None for a run trained on its own.
    """

    name: str
    path: Path
    model_kind: str
    params: dict
    dataset: dict
    split: dict | None
    metrics: dict
    history: list
    created: str
    library_version: str
    cache_key: str
    train_fingerprint: str | None = None
    engine: dict | None = None
    sweep: dict | None = None

    def to_json(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "path"}
        return {"format": RUN_FORMAT, **out}

    @classmethod
    def from_json(cls, data: dict, path: Path) -> "RunInfo":
        """The record of ``run.json`` in folder ``path``, checked against :data:`_SCHEMA`.

        The name is the folder's (a folder copied by hand keeps the old name in its run.json).
        Raises :class:`DamagedFileError` naming every field that is missing or of the wrong type.
        """
        problems = _schema_problems(data)
        if problems:
            raise DamagedFileError(f"{path / INFO_FILE}: damaged: {'; '.join(problems)}")
        values = {f: data[f] for f in _SCHEMA if f not in _OPTIONAL + ("name",)}
        values["metrics"] = {k: None if v is None or not np.isfinite(v) else v
                             for k, v in values["metrics"].items()}
        engine = data.get("engine")
        return cls(name=Path(path).name, path=Path(path),
                   train_fingerprint=data.get("train_fingerprint"),
                   engine=engine if isinstance(engine, dict) else None,
                   sweep=data.get("sweep"), **values)

    @property
    def created_time(self) -> datetime:
        """``created`` as an aware datetime (UTC when the text has no zone)."""
        return _parse_time(self.created)


@dataclass(frozen=True)
class DamagedRun:
    """A folder of the run store that cannot be used, and why (for listing and deleting it).

    Attributes
    ----------
    name : str
        Folder name.
    path : Path
    reason : str
        What is wrong, for a person.
    dataset_fingerprint : str or None
        The dataset it was trained on, when its run.json still says so.
    """

    name: str
    path: Path
    reason: str
    dataset_fingerprint: str | None = None


def _is_str(v):
    return isinstance(v, str)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number_or_none(v):
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


#: Settings of each split method and their checks (as recorded by recsys_core.evaluation.split).
_SPLIT_SETTINGS = {"holdout": {"test_fraction": lambda v: _is_number_or_none(v) and v is not None,
                               "seed": _is_int},
                   "leave_last_k_out": {"k": _is_int},
                   "predefined": {"fold": _is_str},
                   "temporal": {"cutoff": _is_int, "test_fraction": _is_number_or_none}}


def _is_split_params(v):
    if not isinstance(v, dict) or not _is_str(v.get("method")):
        return False
    checks = _SPLIT_SETTINGS.get(v["method"], {})
    return all(name not in v or check(v[name]) for name, check in checks.items())


def _is_time(v):
    if not isinstance(v, str):
        return False
    try:
        _parse_time(v)
    except ValueError:
        return False
    return True


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


#: Field of run.json -> (check, what it must be); every field but those of _OPTIONAL is required.
_SCHEMA = {
    "name": (_is_str, "a text"),
    "model_kind": (_is_str, "a text"),
    "params": (lambda v: isinstance(v, dict), "a mapping"),
    "dataset": (lambda v: isinstance(v, dict) and _is_str(v.get("name"))
                and _is_str(v.get("fingerprint"))
                and all(_is_int(v.get(k)) and v[k] >= 0 for k in ("n_users", "n_items", "n_ratings")),
                "a mapping with text name and fingerprint and counts n_users, n_items, n_ratings"),
    "split": (lambda v: v is None or (isinstance(v, dict) and _is_split_params(v.get("params"))),
              "null or a mapping with params naming a method and its settings"),
    "metrics": (lambda v: isinstance(v, dict)
                and all(_is_str(k) and _is_number_or_none(x) for k, x in v.items()),
                "a mapping of metric names to numbers or null"),
    "history": (lambda v: isinstance(v, list) and all(
                    isinstance(h, dict) and _is_int(h.get("epoch"))
                    and all(_is_number_or_none(x) for k, x in h.items()) for h in v),
                "a list of mappings of an int epoch and numbers"),
    "created": (_is_time, "an ISO-8601 time text"),
    "library_version": (_is_str, "a text"),
    "cache_key": (_is_str, "a text"),
    "train_fingerprint": (lambda v: v is None or _is_str(v), "null or a text"),
    "sweep": (lambda v: v is None or (isinstance(v, dict) and _is_str(v.get("name"))
                                      and (v.get("trial") is None or _is_int(v.get("trial")))),
              "null or a mapping with a text name and an int or null trial"),
}
#: Fields of run.json that older runs lack.
_OPTIONAL = ("train_fingerprint", "sweep")


def _schema_problems(data: dict) -> list[str]:
    problems = []
    for name, (check, what) in _SCHEMA.items():
        if name not in data:
            if name not in _OPTIONAL:
                problems.append(f"{name} is missing")
        elif not check(data[name]):
            problems.append(f"{name} must be {what}, not {_short(data[name])}")
    return problems


def _short(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass
class Run:
    """A loaded run: the model plus the raw ids and item metadata of its index space.

    Attributes
    ----------
    model : Recommender
    info : RunInfo
    user_ids, item_ids : ndarray, shapes (n_users,), (n_items,)
        Raw ids by index: int64, or str objects (like :class:`Dataset`).
    titles : ndarray of str, shape (n_items,)
    item_genres : ndarray of bool, shape (n_items, n_genres)
    genre_names : tuple of str
    item_years : ndarray of float, shape (n_items,)
        Release year, NaN when unknown.
    """

    model: Recommender
    info: RunInfo
    user_ids: np.ndarray
    item_ids: np.ndarray
    titles: np.ndarray
    item_genres: np.ndarray
    genre_names: tuple[str, ...]
    item_years: np.ndarray
    _user_index: dict = field(default=None, repr=False)
    _item_index: dict = field(default=None, repr=False)

    def user_indices(self, raw_ids) -> np.ndarray:
        """Row indices of raw user ids (:class:`UnknownIdError` for an unknown one)."""
        if self._user_index is None:
            self._user_index = {u: i for i, u in enumerate(self.user_ids.tolist())}
        return Dataset._indices(raw_ids, self._user_index, self.user_ids, "user")

    def item_indices(self, raw_ids) -> np.ndarray:
        """Column indices of raw item ids (:class:`UnknownIdError` for an unknown one)."""
        if self._item_index is None:
            self._item_index = {it: i for i, it in enumerate(self.item_ids.tolist())}
        return Dataset._indices(raw_ids, self._item_index, self.item_ids, "item")


class RunStore:
    """A folder of saved runs (default ``data/runs``).

    Parameters
    ----------
    root : str or Path
        Created on the first save.
    """

    def __init__(self, root: str | Path = "data/runs"):
        self.root = Path(root)

    # ------------------------------------------------------------------ writing
    def save(self, model: Recommender, dataset: Dataset, *, name: str | None = None, split=None,
             metrics: dict | None = None, exact_name: bool = False,
             engine: dict | None = None, sweep: dict | None = None) -> RunInfo:
        """Save a fitted model as a new run; never replaces an existing one.

        Parameters
        ----------
        model : Recommender
            Fitted, in the index space of ``dataset``.
        dataset : Dataset
            The dataset the person chose (for a split, the full one: ``split.train`` shares its
            index space). Its fingerprint enters the cache key.
        name : str, optional
            Folder name (letters, digits, ``.``, ``_``, ``-``). Defaults to
            ``<kind>-<UTC time>``. When taken, ``-2``, ``-3``, ... is appended.
        split : Split or dict, optional
            The train/test split (anything with ``params`` and ``fingerprint``), or its params.
        metrics : dict of str -> float, optional
        exact_name : bool
            Raise :class:`PersistenceError` instead of picking another name when ``name`` is
            taken.
        engine : dict, optional
            Where the model was trained when not locally (see :attr:`RunInfo.engine`).
        sweep : dict, optional
            The sweep the run belongs to (see :attr:`RunInfo.sweep`).

        Returns
        -------
        RunInfo of the saved run (``info.name`` is the name actually used).
        """
        try:
            model._check_fitted()
        except NotFittedError:
            raise PersistenceError("cannot save an unfitted model as a run") from None
        if model.n_items_ != dataset.n_items or model.n_users_ != dataset.n_users:
            raise PersistenceError(f"the model has {model.n_users_} users x {model.n_items_} items "
                                   f"but {dataset.name} has {dataset.n_users} x {dataset.n_items}")
        created = datetime.now(timezone.utc)
        base = check_run_name(name if name is not None
                              else f"{model.kind}-{created:%Y%m%d-%H%M%S}")
        split_params, split_fingerprint = _split_description(split)
        split_counts = split.counts() if hasattr(split, "counts") else None
        params = model.get_params()
        info_fields = dict(
            model_kind=model.kind, params=params,
            dataset={"name": dataset.name, "source": dataset.source,
                     "fingerprint": dataset.fingerprint, "n_users": dataset.n_users,
                     "n_items": dataset.n_items, "n_ratings": dataset.n_ratings},
            split=None if split_params is None else {
                "params": split_params, "fingerprint": split_fingerprint,
                **({"counts": split_counts} if split_counts is not None else {})},
            metrics={k: _json_value(v) for k, v in (metrics or {}).items()},
            history=list(getattr(model, "history_", [])),
            created=created.isoformat(timespec="microseconds"),
            library_version=__version__,
            # A run trained elsewhere is never reused for a local training request.
            cache_key=run_cache_key(model.kind if engine is None else f"{model.kind}@{engine['name']}",
                                    params, dataset.fingerprint, split_params),
            train_fingerprint=getattr(model, "dataset_fingerprint_", None),
            engine=None if engine is None else {k: _json_value(v) for k, v in engine.items()},
            sweep=None if sweep is None else json.loads(json_bytes(sweep)))

        self.root.mkdir(parents=True, exist_ok=True)
        self._sweep_leftovers()
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=f".tmp-{base}-"))
        try:
            model.save(tmp / MODEL_FILE)
            save_npz(tmp / IDS_FILE, _id_arrays(dataset), {"kind": "run-ids"})
            for attempt in range(1, 10_000):
                candidate = base if attempt == 1 else f"{base}-{attempt}"
                target = self.root / candidate
                if target.exists():
                    if exact_name:
                        raise PersistenceError(f"run {target} exists already; refusing to "
                                               "overwrite it (choose another name)")
                    continue
                info = RunInfo(name=candidate, path=target, **info_fields)
                data = json_bytes(info.to_json(), indent=2, sort_keys=True)
                atomic_write_bytes(tmp / INFO_FILE, data)
                try:
                    # rename() of a non-empty folder onto an existing run fails instead of
                    # replacing it, so the exists() check above cannot lose a race.
                    os.rename(tmp, target)
                except OSError:
                    if not target.exists():
                        raise
                    if exact_name:
                        raise PersistenceError(f"run {target} exists already; refusing to "
                                               "overwrite it (choose another name)") from None
                    continue
                return info
            raise PersistenceError(f"no free run name starting with {base!r} in {self.root}")
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _sweep_leftovers(self, max_age: float = 24 * 3600.0) -> None:
        """Remove temporary folders of saves or deletes that crashed more than a day ago."""
        now = time.time()
        for entry in self.root.glob(".*"):
            if not entry.name.startswith((".tmp-", ".deleted-")):
                continue
            try:
                if now - entry.stat().st_mtime > max_age:
                    shutil.rmtree(entry, ignore_errors=True)
            except FileNotFoundError:  # another session swept it first
                continue

    def delete(self, name: str) -> None:
        """Remove the run folder ``name`` (a damaged one too); never touches another run.

        The folder is first renamed out of sight, so readers never see half of it. Raises
        :class:`RunNotFoundError` when it does not exist, e.g. another session deleted it.
        """
        path = self._path(name)
        if not path.is_dir():
            raise RunNotFoundError(f"there is no run {name!r} any more (deleted meanwhile?); "
                                   "nothing was deleted")
        trash = self.root / f".deleted-{name}-{os.getpid()}-{time.monotonic_ns()}"
        try:
            os.rename(path, trash)
        except FileNotFoundError:  # another session renamed it away first
            raise RunNotFoundError(f"there is no run {name!r} any more (deleted meanwhile?); "
                                   "nothing was deleted") from None
        shutil.rmtree(trash, ignore_errors=True)

    # ------------------------------------------------------------------ reading
    def scan(self) -> tuple[list[RunInfo], list[DamagedRun]]:
        """Usable runs, newest first, and damaged run folders with the reason, by name.

        A run is usable when its run.json passes the schema and the headers of its model.npz and
        ids.npz show every array in the shape and dtype its metadata implies (no array data is
        read, so listing stays cheap).
        """
        if not self.root.is_dir():
            return [], []
        infos, damaged = [], []
        for entry in sorted(self.root.iterdir()):
            if not _NAME_PATTERN.match(entry.name) or not entry.is_dir():
                continue  # hidden leftovers of saves and deletes, or not a run's name
            try:
                info = _read_info(entry)
                check_run_files(entry, info)
            except RunNotFoundError:  # deleted by another session while we looked
                continue
            except PersistenceError as exc:
                damaged.append(DamagedRun(entry.name, entry, str(exc), _fingerprint_of(entry)))
            except FileNotFoundError:  # deleted by another session while we looked
                continue
            else:
                infos.append(info)
        infos.sort(key=lambda info: (info.created_time, info.name), reverse=True)
        return infos, damaged

    def list(self) -> list[RunInfo]:
        """Every usable run, newest first (damaged folders are left out: see :meth:`scan`)."""
        return self.scan()[0]

    def damaged(self) -> list[DamagedRun]:
        """Run folders that cannot be used, with the reason, by name."""
        return self.scan()[1]

    def info(self, name: str) -> RunInfo:
        """The ``run.json`` of a run, checked for format, version and types."""
        path = self._path(name)
        if not path.is_dir():
            raise RunNotFoundError(f"no run named {name!r} in {self.root}")
        return _read_info(path)

    def find(self, cache_key: str) -> RunInfo | None:
        """The newest run saved with this :func:`run_cache_key`, or None."""
        for info in self.list():
            if info.cache_key == cache_key:
                return info
        return None

    def load(self, name: str) -> Run:
        """Load a run by name; :class:`PersistenceError` if it is missing, corrupted or foreign."""
        path = self._path(name)
        if not path.is_dir():
            raise RunNotFoundError(f"no run named {name!r} in {self.root} (deleted meanwhile?)")
        return load_run(path)

    def _path(self, name: str) -> Path:
        return self.root / check_run_name(name)


def load_run(path: str | Path) -> Run:
    """Load the run stored in folder ``path`` (see :class:`RunStore`).

    Raises :class:`PersistenceError` for a missing or foreign run, :class:`DamagedFileError` when
    a file is corrupted or an array's shape or dtype contradicts the run's metadata.
    """
    path = Path(path)
    if not path.is_dir():
        raise RunNotFoundError(f"{path}: no such run folder")
    info = _read_info(path)
    check_run_files(path, info)
    try:
        model = Recommender.load(path / MODEL_FILE)
    except RecsysError:
        raise
    except Exception as exc:  # a structurally valid npz with missing/mismatched arrays
        raise DamagedFileError(f"{path / MODEL_FILE}: damaged model ({type(exc).__name__}: {exc})"
                               ) from None
    if model.kind != info.model_kind:
        raise DamagedFileError(f"{path}: run.json says {info.model_kind!r} but model.npz holds "
                               f"{model.kind!r}")
    _check_model_shapes(path / MODEL_FILE, _model_shapes(model), info.dataset["n_users"],
                        info.dataset["n_items"])
    arrays, _ = load_npz(path / IDS_FILE, expected_kind="run-ids")
    try:
        user_ids = _raw_ids(arrays["user_ids"])
        item_ids = _raw_ids(arrays["item_ids"])
        titles = arrays["titles"].astype(str)
        item_genres = arrays["item_genres"].astype(bool)
        genre_names = tuple(arrays["genre_names"].astype(str).tolist())
        item_years = arrays["item_years"].astype(float)
    except KeyError as exc:
        raise DamagedFileError(f"{path / IDS_FILE}: missing array {exc}") from None
    if (len(user_ids), len(item_ids)) != (model.n_users_, model.n_items_) or \
            len(titles) != len(item_ids) or item_genres.shape != (len(item_ids), len(genre_names)):
        raise DamagedFileError(f"{path}: ids.npz does not match the model's "
                               f"{model.n_users_} users x {model.n_items_} items")
    return Run(model=model, info=info, user_ids=user_ids, item_ids=item_ids, titles=titles,
               item_genres=item_genres, genre_names=genre_names, item_years=item_years)


def check_run_files(path: str | Path, info: RunInfo) -> None:
    """Check, from the array headers only, that model.npz and ids.npz hold every array in the
    shape and dtype the run's metadata implies; :class:`DamagedFileError` saying what is wrong."""
    path = Path(path)
    n_users, n_items = info.dataset["n_users"], info.dataset["n_items"]
    shapes, meta = npz_layout(path / MODEL_FILE, expected_kind="model")
    if meta.get("model") != info.model_kind:
        raise DamagedFileError(f"{path}: run.json says {info.model_kind!r} but model.npz holds "
                               f"{meta.get('model')!r}")
    state = meta.get("state") if isinstance(meta.get("state"), dict) else {}
    if (state.get("n_users_"), state.get("n_items_")) != (n_users, n_items):
        raise DamagedFileError(f"{path / MODEL_FILE}: damaged: the model is for "
                               f"{state.get('n_users_')} users x {state.get('n_items_')} items, "
                               f"the run's dataset has {n_users} x {n_items}")
    for name, value in state.items():  # sparse matrices record their shape in the metadata
        rows = _SPARSE_MATRICES.get(name[: -len(".shape")]) if name.endswith(".shape") else None
        expected = [n_users if rows == "users" else n_items, n_items]
        if rows is not None and value != expected:
            raise DamagedFileError(f"{path / MODEL_FILE}: damaged: {name} is {value}, expected "
                                   f"{expected}")
    _check_model_shapes(path / MODEL_FILE, shapes, n_users, n_items)
    ids, _ = npz_layout(path / IDS_FILE, expected_kind="run-ids")
    n_genres = ids.get("genre_names", ((None,), None))[0][0]
    expected = {"user_ids": ((n_users,), "iuU"), "item_ids": ((n_items,), "iuU"),
                "titles": ((n_items,), "U"), "item_genres": ((n_items, n_genres), "b"),
                "genre_names": ((n_genres,), "U"), "item_years": ((n_items,), "f")}
    for name, (shape, kinds) in expected.items():
        if name not in ids:
            raise DamagedFileError(f"{path / IDS_FILE}: damaged: array {name!r} is missing")
        got_shape, dtype = ids[name]
        if got_shape != shape or dtype.kind not in kinds:
            raise DamagedFileError(f"{path / IDS_FILE}: damaged: array {name!r} has shape "
                                   f"{got_shape} and dtype {dtype}, expected shape {shape}")


#: Model arrays by the index space of their rows (checked against the run's users and items).
_ITEM_ROWS = ("item_embeddings_", "item_bias_", "item_scores_", "item_cold_", "item_imputed_",
              "item_frequency_factor_", "cold_items_", "item_weights_", "implicit_item_factors_",
              "item_context_", "negative_q_", "item_ids_", "history_embeddings_")
_USER_ROWS = ("user_embeddings_", "user_bias_", "user_features_")
#: Sparse model matrices by the index space of their rows (their columns are items).
_SPARSE_MATRICES = {"seen_": "users", "user_history_": "users", "similarity_": "items",
                    "item_weights_": "items"}


def _model_shapes(model: Recommender) -> dict:
    """(shape, dtype) of a loaded model's learned arrays, as :func:`npz_layout` gives them."""
    out = {}
    for name, value in vars(model).items():
        if isinstance(value, np.ndarray) and name.endswith("_") and not name.startswith("_"):
            out[name] = (value.shape, value.dtype)
    # Embeddings a model derives on demand (EASE's B^T) are not read: that would build them.
    for name in _SPARSE_MATRICES:
        matrix = getattr(model, name, None)
        if matrix is not None and hasattr(matrix, "indptr"):
            out[f"{name}.indptr"] = (matrix.indptr.shape, matrix.indptr.dtype)
            out[f"{name}.data"] = (matrix.data.shape, matrix.data.dtype)
            out[f"{name}.indices"] = (matrix.indices.shape, matrix.indices.dtype)
    return out


def _check_model_shapes(file: Path, shapes: dict, n_users: int, n_items: int) -> None:
    """Rows of user/item arrays, embedding widths, CSR layouts and dtypes, against the run."""
    problems = []
    for names, n, axis in ((_ITEM_ROWS, n_items, "items"), (_USER_ROWS, n_users, "users")):
        for name in names:
            if name not in shapes:
                continue
            shape, dtype = shapes[name]
            if len(shape) == 0 or shape[0] != n:
                problems.append(f"{name} has shape {tuple(shape)}, expected {n} rows ({axis})")
            elif np.dtype(dtype).kind not in "fb":
                problems.append(f"{name} has dtype {np.dtype(dtype)}, expected numbers")
    if shapes.get("item_weights_", ((n_items, n_items), None))[0] != (n_items, n_items):
        problems.append(f"item_weights_ has shape {shapes['item_weights_'][0]}, expected "
                        f"({n_items}, {n_items})")
    widths = {name: shapes[name][0] for name in ("item_embeddings_", "user_embeddings_",
                                                 "item_feature_embeddings_",
                                                 "user_feature_embeddings_") if name in shapes}
    if any(len(shape) != 2 for shape in widths.values()):
        problems.append("embeddings must be matrices: " + ", ".join(
            f"{name} {tuple(shape)}" for name, shape in widths.items()))
    elif len({shape[1] for shape in widths.values()}) > 1:
        problems.append("embeddings differ in width: " + ", ".join(
            f"{name} {tuple(shape)}" for name, shape in widths.items()))
    for name, rows in _SPARSE_MATRICES.items():
        if f"{name}.indptr" not in shapes:
            continue
        n_rows = n_users if rows == "users" else n_items
        indptr = shapes[f"{name}.indptr"][0]
        data, indices = shapes.get(f"{name}.data", (None,))[0], shapes.get(f"{name}.indices",
                                                                            (None,))[0]
        if indptr != (n_rows + 1,) or data != indices:
            problems.append(f"{name} is not a {n_rows} x {n_items} sparse matrix")
    if problems:
        raise DamagedFileError(f"{file}: damaged: {'; '.join(problems)}")


# ---------------------------------------------------------------------- helpers
def _read_info(path: Path) -> RunInfo:
    file = path / INFO_FILE
    if not file.is_file():
        raise DamagedFileError(f"{path}: not a usable run folder (no {INFO_FILE})")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:  # deleted by another session since the check above
        raise RunNotFoundError(f"{path}: no such run folder") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DamagedFileError(f"{file}: damaged ({exc})") from None
    except OSError as exc:
        raise DamagedFileError(f"{file}: cannot be read ({exc.strerror or exc})") from None
    if not isinstance(data, dict) or "format" not in data:
        raise DamagedFileError(f"{file}: not a recsys-studio run")
    if data["format"] != RUN_FORMAT:
        raise PersistenceError(f"{file}: run format {data['format']!r} (library version "
                               f"{data.get('library_version', '?')}) cannot be read by this "
                               f"version, which reads {RUN_FORMAT!r}; retrain the model")
    return RunInfo.from_json(data, path)


def _fingerprint_of(path: Path) -> str | None:
    """The dataset fingerprint a (damaged) run.json still names, else None."""
    try:
        data = json.loads((path / INFO_FILE).read_text(encoding="utf-8"))
        fingerprint = data["dataset"]["fingerprint"]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return fingerprint if isinstance(fingerprint, str) else None


def _split_description(split) -> tuple[dict | None, str | None]:
    if split is None:
        return None, None
    if isinstance(split, dict):
        return dict(split), None
    return dict(split.params), getattr(split, "fingerprint", None)


def _id_arrays(dataset: Dataset) -> dict[str, np.ndarray]:
    def ids(a):
        return a.astype(np.int64) if a.dtype.kind in "iu" else np.asarray([str(x) for x in a], dtype=str)

    return {"user_ids": ids(dataset.user_ids), "item_ids": ids(dataset.item_ids),
            "titles": np.asarray(dataset.items["title"].astype(str).tolist(), dtype=str),
            "item_genres": np.asarray(dataset.item_genres, dtype=bool),
            "genre_names": np.asarray(list(dataset.genre_names), dtype=str),
            "item_years": dataset.items["year"].to_numpy(dtype=float)}


def _raw_ids(a: np.ndarray) -> np.ndarray:
    """Ids as :class:`Dataset` holds them: int64, or an object array of str."""
    if a.dtype.kind in "iu":
        return a.astype(np.int64)
    return np.asarray(a.astype(str).tolist(), dtype=object)


def _json_value(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (tuple, set)):
        return list(v)
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, (str, int, float, bool, list, dict)) or v is None:
        return v
    raise TypeError(f"{type(v).__name__} is not JSON-serialisable")
