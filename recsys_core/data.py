"""Dataset loaders: MovieLens 100K, MovieLens "latest", generic ratings CSV, and default resolution."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .dataset import Dataset, LoadReport
from .errors import DataError

DATA_DIR_ENV = "RECSYS_DATA_DIR"


def load_movielens_100k(path: str | Path) -> Dataset:
    """Load the MovieLens 100K directory format (``u.data``, ``u.item``, ``u.user``, ``u.genre``).

    The standard folds ``u1``..``u5`` become predefined test masks in ``Dataset.folds``.
    """
    path = Path(path)
    ratings = pd.read_csv(path / "u.data", sep="\t", header=None,
                          names=["user", "item", "rating", "timestamp"])
    genres = pd.read_csv(path / "u.genre", sep="|", header=None, names=["genre", "id"],
                         encoding="latin-1").dropna()
    genre_names = genres.sort_values("id")["genre"].tolist()
    item_cols = ["item", "title", "release_date", "video_date", "url"] + genre_names
    items = pd.read_csv(path / "u.item", sep="|", header=None, names=item_cols, encoding="latin-1")
    dates = pd.to_datetime(items["release_date"], format="%d-%b-%Y", errors="coerce")
    table = pd.DataFrame({"title": items["title"].fillna("").astype(str),
                          "year": dates.dt.year.astype(float),
                          "release_date": items["release_date"].fillna("").astype(str)})
    users = pd.read_csv(path / "u.user", sep="|", header=None,
                        names=["user", "age", "gender", "occupation", "zip_code"])
    folds = {}
    keys = pd.MultiIndex.from_frame(ratings[["user", "item"]])
    for k in range(1, 6):
        test_file = path / f"u{k}.test"
        if test_file.exists():
            test = pd.read_csv(test_file, sep="\t", header=None, names=["user", "item", "r", "t"])
            folds[f"u{k}"] = keys.isin(pd.MultiIndex.from_frame(test[["user", "item"]]))
    return Dataset.from_interactions(
        ratings["user"].to_numpy(), ratings["item"].to_numpy(), ratings["rating"].to_numpy(),
        ratings["timestamp"].to_numpy(), user_ids=users["user"].to_numpy(),
        item_ids=items["item"].to_numpy(), item_table=table, genre_names=genre_names,
        item_genres=items[genre_names].to_numpy(dtype=bool),
        user_table=users[["age", "gender", "occupation", "zip_code"]], rating_scale=(1.0, 5.0),
        name="MovieLens 100K", source=str(path), report=LoadReport(rows_read=len(ratings)),
        fold_of_row=folds)
