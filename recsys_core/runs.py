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

from . import __version__
from .dataset import Dataset
from .errors import PersistenceError, RecsysError
from .models.base import Recommender
from .persistence import atomic_write_bytes, json_bytes, load_npz, save_npz

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
        ``params`` and ``fingerprint`` of the train/test split, None when trained on everything.
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

    def to_json(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "path"}
        return {"format": RUN_FORMAT, **out}

    @classmethod
    def from_json(cls, data: dict, path: Path) -> "RunInfo":
        fields = ("name", "model_kind", "params", "dataset", "split", "metrics", "history",
                  "created", "library_version", "cache_key")
        missing = [f for f in fields if f not in data]
        if missing:
            raise PersistenceError(f"{path / INFO_FILE}: missing {', '.join(missing)}")
        return cls(path=path, train_fingerprint=data.get("train_fingerprint"),
                   **{f: data[f] for f in fields})


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
             metrics: dict | None = None, exact_name: bool = False) -> RunInfo:
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

        Returns
        -------
        RunInfo of the saved run (``info.name`` is the name actually used).
        """
        if not hasattr(model, "item_embeddings_"):
            raise PersistenceError("cannot save an unfitted model as a run")
        if model.n_items_ != dataset.n_items or model.n_users_ != dataset.n_users:
            raise PersistenceError(f"the model has {model.n_users_} users x {model.n_items_} items "
                                   f"but {dataset.name} has {dataset.n_users} x {dataset.n_items}")
        created = datetime.now(timezone.utc)
        base = name if name is not None else f"{model.kind}-{created:%Y%m%d-%H%M%S}"
        if not _NAME_PATTERN.match(base):
            raise PersistenceError(f"invalid run name {base!r}: use letters, digits, '.', '_' and "
                                   "'-', starting with a letter or digit (safe_run_name makes "
                                   "one from any text)")
        split_params, split_fingerprint = _split_description(split)
        params = model.get_params()
        info_fields = dict(
            model_kind=model.kind, params=params,
            dataset={"name": dataset.name, "source": dataset.source,
                     "fingerprint": dataset.fingerprint, "n_users": dataset.n_users,
                     "n_items": dataset.n_items, "n_ratings": dataset.n_ratings},
            split=None if split_params is None else {"params": split_params,
                                                     "fingerprint": split_fingerprint},
            metrics={k: _json_value(v) for k, v in (metrics or {}).items()},
            history=list(getattr(model, "history_", [])),
            created=created.isoformat(timespec="microseconds"),
            library_version=__version__,
            cache_key=run_cache_key(model.kind, params, dataset.fingerprint, split_params),
            train_fingerprint=getattr(model, "dataset_fingerprint_", None))

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
        """Remove a run (first renamed out of sight, so readers never see half of it)."""
        path = self._path(name)
        if not (path / INFO_FILE).is_file():
            raise PersistenceError(f"no run named {name!r} in {self.root}")
        trash = self.root / f".deleted-{name}-{os.getpid()}-{time.monotonic_ns()}"
        os.rename(path, trash)
        shutil.rmtree(trash, ignore_errors=True)

    # ------------------------------------------------------------------ reading
    def list(self) -> list[RunInfo]:
        """Every readable run, newest first (unreadable folders are left out)."""
        if not self.root.is_dir():
            return []
        infos = []
        for entry in self.root.iterdir():
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            try:
                infos.append(self.info(entry.name))
            except PersistenceError:
                continue
        return sorted(infos, key=lambda info: (info.created, info.name), reverse=True)

    def info(self, name: str) -> RunInfo:
        """The ``run.json`` of a run, checked for format and version."""
        path = self._path(name)
        return _read_info(path)

    def find(self, cache_key: str) -> RunInfo | None:
        """The newest run saved with this :func:`run_cache_key`, or None."""
        for info in self.list():
            if info.cache_key == cache_key:
                return info
        return None

    def load(self, name: str) -> Run:
        """Load a run by name; :class:`PersistenceError` if it is missing, corrupted or foreign."""
        return load_run(self._path(name))

    def _path(self, name: str) -> Path:
        if not isinstance(name, str) or not _NAME_PATTERN.match(name):
            raise PersistenceError(f"invalid run name {name!r}")
        return self.root / name


def load_run(path: str | Path) -> Run:
    """Load the run stored in folder ``path`` (see :class:`RunStore`)."""
    path = Path(path)
    if not path.is_dir():
        raise PersistenceError(f"{path}: no such run folder")
    info = _read_info(path)
    try:
        model = Recommender.load(path / MODEL_FILE)
    except RecsysError:
        raise
    except Exception as exc:  # a structurally valid npz with missing/mismatched arrays
        raise PersistenceError(f"{path / MODEL_FILE}: corrupted model ({type(exc).__name__}: {exc})"
                               ) from None
    if model.kind != info.model_kind:
        raise PersistenceError(f"{path}: run.json says {info.model_kind!r} but model.npz holds "
                               f"{model.kind!r}")
    arrays, _ = load_npz(path / IDS_FILE, expected_kind="run-ids")
    try:
        user_ids = _raw_ids(arrays["user_ids"])
        item_ids = _raw_ids(arrays["item_ids"])
        titles = arrays["titles"].astype(str)
        item_genres = arrays["item_genres"].astype(bool)
        genre_names = tuple(arrays["genre_names"].astype(str).tolist())
        item_years = arrays["item_years"].astype(float)
    except KeyError as exc:
        raise PersistenceError(f"{path / IDS_FILE}: missing array {exc}") from None
    if (len(user_ids), len(item_ids)) != (model.n_users_, model.n_items_) or \
            len(titles) != len(item_ids) or item_genres.shape != (len(item_ids), len(genre_names)):
        raise PersistenceError(f"{path}: ids.npz does not match the model's "
                               f"{model.n_users_} users x {model.n_items_} items")
    return Run(model=model, info=info, user_ids=user_ids, item_ids=item_ids, titles=titles,
               item_genres=item_genres, genre_names=genre_names, item_years=item_years)


# ---------------------------------------------------------------------- helpers
def _read_info(path: Path) -> RunInfo:
    file = path / INFO_FILE
    if not file.is_file():
        raise PersistenceError(f"{path}: not a run folder (no {INFO_FILE})")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PersistenceError(f"{file}: corrupted ({exc})") from None
    if not isinstance(data, dict) or "format" not in data:
        raise PersistenceError(f"{file}: not a recsys-studio run")
    if data["format"] != RUN_FORMAT:
        raise PersistenceError(f"{file}: run format {data['format']!r} (library version "
                               f"{data.get('library_version', '?')}) cannot be read by this "
                               f"version, which reads {RUN_FORMAT!r}; retrain the model")
    return RunInfo.from_json(data, path)


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
