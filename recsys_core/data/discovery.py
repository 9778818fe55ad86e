"""Which dataset to load: format detection, :func:`load_dataset` for any supported path, and the
datasets found without downloading (``$RECSYS_DATA_DIR``, then the project's ``data/`` folder).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ..errors import DataError
from .dataset import Dataset
from .movielens import load_movielens_100k, load_movielens_latest
from .ratings_csv import load_ratings_csv

DATA_DIR_ENV = "RECSYS_DATA_DIR"
#: Where :func:`~recsys_core.data.download.download_movielens` puts datasets (git-ignored).
PROJECT_DATA_DIR = Path(__file__).resolve().parents[2] / "data"
#: Dataset folders looked for inside a data directory, in order of preference.
KNOWN_DATASET_FOLDERS = ("ml-100k", "ml-latest-small")


# ---------------------------------------------------------------------- detection and defaults
def detect_format(path: str | Path) -> str:
    """The format of a folder or file: "movielens-100k", "movielens-latest" or "ratings-csv".

    Raises DataError for a missing path or a folder holding neither MovieLens format.
    """
    path = Path(path)
    if path.is_dir():
        if (path / "u.data").is_file():
            return "movielens-100k"
        if (path / "ratings.csv").is_file():
            return "movielens-latest"
        raise DataError("holds no recognised dataset (expected u.data for MovieLens 100K or "
                        "ratings.csv and movies.csv for MovieLens latest)", path=path)
    if path.is_file():
        if path.name == "u.data":
            return "movielens-100k"
        if path.name == "ratings.csv" and (path.parent / "movies.csv").is_file():
            return "movielens-latest"
        return "ratings-csv"
    raise DataError("no such file or folder", path=path)


def load_dataset(path: str | Path, items_path: str | Path | None = None, **kwargs) -> Dataset:
    """Load a MovieLens folder (100K or latest format) or a ratings CSV, detecting which.

    A ``u.data`` or ``ratings.csv`` file stands for its MovieLens folder when ``items_path`` is
    not given. Keyword arguments go to :func:`load_ratings_csv` for a plain ratings file.
    """
    path = Path(path)
    fmt = detect_format(path)
    if items_path is None and fmt != "ratings-csv":
        folder = path if path.is_dir() else path.parent
        return (load_movielens_100k(folder) if fmt == "movielens-100k"
                else load_movielens_latest(folder))
    if path.is_dir():
        raise DataError("--items goes with a ratings file, not a folder", path=path)
    return load_ratings_csv(path, items_path, **kwargs)


def _dataset_folders_in(root: Path) -> list[tuple[str, Path]]:
    try:
        detect_format(root)
        if root.is_dir():
            return [(root.name, root)]
    except DataError:
        pass
    found = []
    if root.is_dir():
        # The known MovieLens folders first (in that order), then any other sub-folder holding a
        # dataset (e.g. a larger MovieLens-latest catalogue), by name.
        others = sorted(p.name for p in root.iterdir()
                        if p.is_dir() and p.name not in KNOWN_DATASET_FOLDERS
                        and not p.name.startswith("."))
        for name in [*KNOWN_DATASET_FOLDERS, *others]:
            sub = root / name
            if sub.is_dir():
                try:
                    detect_format(sub)
                except DataError:
                    continue
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
