"""The real catalogues the defaults protocol uses, and its splits (docs/defaults-protocol.md).

Every catalogue is read from ``$RECSYS_DATA_DIR`` (never committed: the licences forbid
redistribution):

- ``ml-100k``: MovieLens 100K, 943 users x 1,682 movies, star ratings (``ml-100k/``).
- ``ml-latest-small``: MovieLens "latest" small, 671 users x 9,125 movies, half-star ratings
  (``ml-latest-small/``, the 2016 release; the 2018 one, 610 x 9,742, works the same).
- ``lastfm-2k``: HetRec 2011 Last.fm, 1,892 users x 17,632 artists, play counts
  (``lastfm-2k/user_artists.dat`` and ``artists.dat``): implicit counts, 10k+ items.

Splits: a per-user 80/20 *test* holdout (seed ``s``), and inside its training part a per-user
80/20 *validation* holdout (seed ``100 + s``). Choices see only the validation split; the test
part is scored once, afterwards, and printed as a check.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys_core.data import Dataset, load_dataset  # noqa: E402
from recsys_core.evaluation.split import Split, holdout_split  # noqa: E402

CATALOGUES = ("ml-100k", "ml-latest-small", "lastfm-2k")
VALIDATION_SEED_OFFSET = 100


def data_dir() -> Path:
    path = os.environ.get("RECSYS_DATA_DIR")
    if not path:
        sys.exit("set RECSYS_DATA_DIR to the folder holding ml-100k/, ml-latest-small/ and "
                 "lastfm-2k/ (see benchmarks/catalogues.py)")
    return Path(path)


def _load_lastfm(folder: Path) -> Dataset:
    """HetRec Last.fm: ``userID artistID weight`` (plays) with artist names as titles."""
    plays = pd.read_csv(folder / "user_artists.dat", sep="\t")
    artists = pd.read_csv(folder / "artists.dat", sep="\t", usecols=[0, 1],
                          quoting=3, encoding="utf-8", on_bad_lines="skip")
    item_ids = np.unique(plays["artistID"].to_numpy())
    names = artists.set_index("id")["name"].reindex(item_ids)
    names = names.fillna(pd.Series([f"artist {i}" for i in item_ids], index=item_ids))
    return Dataset.from_interactions(
        plays["userID"].to_numpy(), plays["artistID"].to_numpy(),
        plays["weight"].to_numpy(np.float32), item_ids=item_ids,
        item_table=pd.DataFrame({"title": names.astype(str).to_numpy()}),
        name="Last.fm HetRec 2k (plays)", source=str(folder))


def load_catalogue(name: str) -> Dataset:
    """One of :data:`CATALOGUES` from ``$RECSYS_DATA_DIR``."""
    folder = data_dir() / name
    if not folder.exists():
        sys.exit(f"{folder} is missing (see benchmarks/catalogues.py for where to get it)")
    if name == "lastfm-2k":
        return _load_lastfm(folder)
    return load_dataset(folder)


def protocol_splits(dataset: Dataset, seed: int = 0) -> tuple[Split, Split]:
    """(test split, validation split carved from its training part) for a seed."""
    test = holdout_split(dataset, 0.2, seed=seed)
    validation = holdout_split(test.train, 0.2, seed=VALIDATION_SEED_OFFSET + seed)
    return test, validation
