"""Which dataset to load: format detection, :func:`load_dataset` for any supported path, and the
datasets found without downloading (``$RECSYS_DATA_DIR``, then the project's ``data/`` folder).
"""
from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

from ..errors import DataError
from .cache import cached_load
from .dataset import Dataset
from .movielens import load_movielens_100k, load_movielens_dat, load_movielens_latest
from .ratings_csv import load_ratings_csv

DATA_DIR_ENV = "RECSYS_DATA_DIR"
#: Where :func:`~recsys_core.data.download.download_movielens` puts datasets (git-ignored).
PROJECT_DATA_DIR = Path(__file__).resolve().parents[2] / "data"
#: Dataset folders looked for inside a data directory, in order of preference.
KNOWN_DATASET_FOLDERS = ("ml-100k", "ml-latest-small")  # then any other, by name


# ---------------------------------------------------------------------- detection and defaults
def _first_line(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(4096).split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _is_movielens_csv(path: Path) -> bool:
    """Whether ratings.csv's header names userId and movieId (what every "latest"-format release
    writes), so that a folder of some other ratings.csv is not taken for MovieLens."""
    fields = {f.strip().strip('"').strip().lower().lstrip("\ufeff")
              for f in _first_line(path).split(",")}
    return {"userid", "movieid"} <= fields


def _is_movielens_dat(path: Path) -> bool:
    """Whether ratings.dat's first line is UserID::MovieID::Rating::Timestamp (ml-1m, ml-10m)."""
    return re.fullmatch(r"\d+::\d+::\d+(\.\d+)?::\d+", _first_line(path)) is not None


def recognise_folder(folder: Path) -> str | None:
    """The MovieLens format a folder's files hold ("movielens-100k", "movielens-latest",
    "movielens-dat"), or None: judged by content (file names and first lines), not its name."""
    if (folder / "u.data").is_file() and (folder / "u.item").is_file():
        return "movielens-100k"
    if (folder / "ratings.csv").is_file() and (folder / "movies.csv").is_file() \
            and _is_movielens_csv(folder / "ratings.csv"):
        return "movielens-latest"
    if (folder / "ratings.dat").is_file() and (folder / "movies.dat").is_file() \
            and _is_movielens_dat(folder / "ratings.dat"):
        return "movielens-dat"
    return None


def detect_format(path: str | Path) -> str:
    """The format of a folder or file: "movielens-100k", "movielens-latest" (ml-latest-small,
    ml-20m, ml-25m, ml-32m, ...), "movielens-dat" (ml-1m, ml-10m) or "ratings-csv".

    Folders are recognised by what their files hold (u.data next to u.item; a ratings.csv whose
    header names userId and movieId next to movies.csv; a ratings.dat of
    UserID::MovieID::Rating::Timestamp lines next to movies.dat), whatever the folder is called.
    Raises DataError for a missing path or a folder holding none of them.
    """
    path = Path(path)
    if path.is_dir():
        if fmt := recognise_folder(path):
            return fmt
        if (path / "u.data").is_file():  # the loader says which file is missing
            return "movielens-100k"
        if (path / "ratings.csv").is_file():
            return "movielens-latest"
        raise DataError("holds no recognised dataset (expected u.data for MovieLens 100K, "
                        "ratings.csv and movies.csv for MovieLens latest/20M/25M/32M, or "
                        "ratings.dat and movies.dat for MovieLens 1M/10M)", path=path)
    if path.is_file():
        if path.name == "u.data":
            return "movielens-100k"
        if path.name == "ratings.csv" and (path.parent / "movies.csv").is_file():
            return "movielens-latest"
        if path.name == "ratings.dat" and (path.parent / "movies.dat").is_file():
            return "movielens-dat"
        return "ratings-csv"
    raise DataError("no such file or folder", path=path)


_FOLDER_LOADERS = {"movielens-100k": load_movielens_100k,
                   "movielens-latest": load_movielens_latest,
                   "movielens-dat": load_movielens_dat}


def load_dataset(path: str | Path, items_path: str | Path | None = None, *,
                 cache: bool | str | Path = True, **kwargs) -> Dataset:
    """Load a MovieLens folder (100K, 1M/10M ``.dat``, or latest/20M/25M/32M) or a ratings CSV,
    detecting which.

    A ``u.data``, ``ratings.csv`` or ``ratings.dat`` file stands for its MovieLens folder when
    ``items_path`` is not given. Keyword arguments go to :func:`load_ratings_csv` for a plain
    ratings file.

    cache : bool or path
        MovieLens folders of 8 MB or more go through the binary cache of
        :mod:`recsys_core.data.cache` (True: its default folder, beside the run store; a path: that
        folder; False: always parse the text). ``Dataset.report.cache`` says what happened.
    """
    path = Path(path)
    fmt = detect_format(path)
    if items_path is None and fmt != "ratings-csv":
        folder = path if path.is_dir() else path.parent
        loader = _FOLDER_LOADERS[fmt]
        if cache is False:
            return loader(folder)
        files = [f for f in folder.iterdir() if f.is_file() and not f.name.startswith(".")]
        return cached_load(folder, files, lambda: loader(folder),
                           cache_dir=None if cache is True else Path(cache),
                           options={"format": fmt})
    if path.is_dir():
        raise DataError("--items goes with a ratings file, not a folder", path=path)
    return load_ratings_csv(path, items_path, **kwargs)


def _dataset_folders_in(root: Path) -> list[tuple[str, Path]]:
    if root.is_dir() and recognise_folder(root):
        return [(root.name, root)]
    found = []
    if root.is_dir():
        # The known MovieLens folders first (in that order), then any other sub-folder whose
        # files hold a MovieLens release (ml-1m, ml-10M100K, ml-25m, a renamed copy), by name.
        others = sorted(p.name for p in root.iterdir()
                        if p.is_dir() and p.name not in KNOWN_DATASET_FOLDERS
                        and not p.name.startswith("."))
        for name in [*KNOWN_DATASET_FOLDERS, *others]:
            sub = root / name
            if sub.is_dir() and recognise_folder(sub):
                found.append((name, sub))
    return found


def find_datasets() -> list[tuple[str, Path]]:
    """Datasets available without downloading, as ``(name, folder)`` in order of preference.

    First ``$RECSYS_DATA_DIR`` (a dataset folder itself, or a folder holding ``ml-100k/``,
    ``ml-latest-small/`` and/or other dataset folders, listed after those two by name), then the
    same inside the project's ``data/`` directory where
    :func:`recsys_core.data.download.download_movielens` puts them. Names are unique: a dataset in
    ``$RECSYS_DATA_DIR`` hides a downloaded one of the same name.
    """
    roots = []
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        roots.append(Path(env).expanduser())
    roots.append(PROJECT_DATA_DIR)
    found, seen = [], set()
    for root in roots:
        for name, folder in _dataset_folders_in(root):
            if name not in seen:  # names are unique: the first root wins
                seen.add(name)
                found.append((name, folder))
    return found


def default_dataset() -> Dataset:
    """The dataset to show when nobody chose one: the first of :func:`find_datasets`, else the
    demo catalogue. Its ``name`` and ``source`` say which; when ``$RECSYS_DATA_DIR`` is set but
    holds nothing usable, the report's notes say so.
    """
    found = find_datasets()
    notes = []
    env = os.environ.get(DATA_DIR_ENV)
    if env and not _dataset_folders_in(Path(env).expanduser()):
        notes.append(f"{DATA_DIR_ENV}={env} holds no MovieLens dataset")
    if found:
        dataset = load_dataset(found[0][1])
    else:
        from .demo import make_demo_dataset

        dataset = make_demo_dataset()
        notes.append("no dataset found in RECSYS_DATA_DIR or data/: using the generated demo "
                     "catalogue (python -m recsys_core download ml-100k fetches MovieLens)")
    if notes:
        dataset = dataclasses.replace(dataset, report=dataclasses.replace(
            dataset.report, notes=tuple(dataset.report.notes) + tuple(notes)))
    return dataset


def load_recorded_dataset(record: dict, purpose: str, needs: str = "the run's dataset"
                          ) -> Dataset:
    """The dataset a saved run was trained on, loaded again from its record (a run's
    ``info.dataset``: ``source`` and ``fingerprint``); the error says what needed it
    (``purpose``, e.g. "comparing runs") and what of it (``needs``).

    Raises
    ------
    HyperparameterError
        When the source cannot be loaded or its data changed since the run was trained (the
        fingerprints differ).
    """
    from ..errors import HyperparameterError

    source = record.get("source", "")
    try:
        data = load_dataset(source)
    except (OSError, DataError, ValueError) as exc:
        raise HyperparameterError(f"{purpose} needs {needs}; the dataset could not be "
                                  f"loaded from {source!r} ({exc})") from None
    if data.fingerprint != record.get("fingerprint"):
        raise HyperparameterError(f"{purpose} needs {needs}, but the data at {source!r} "
                                  "changed since the run was trained")
    return data
