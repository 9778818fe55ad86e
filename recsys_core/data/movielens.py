"""MovieLens loaders: the 100K folder format (with its u1..u5 folds) and the "latest" format
(ml-latest-small, ml-latest, ml-25m, ...), read through :func:`~recsys_core.data.readers.read_table`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .dataset import Dataset
from .readers import (_check_known_ids, _check_unique, _genres_multi_hot, _report,
                      _roles_from_header, _typed_ids, _year_from_title, parse_ids, parse_numbers,
                      parse_timestamps, read_table)


# -------------------------------------------------------------------------------- MovieLens 100K
def load_movielens_100k(path: str | Path) -> Dataset:
    """Load the MovieLens 100K folder format.

    Files: ``u.data`` (user TAB item TAB rating TAB timestamp), ``u.item`` (Latin-1, "|"-separated:
    id, title, release date, video date, IMDb URL, one 0/1 flag per genre), ``u.genre``
    ("name|index"), optional ``u.user`` (id|age|gender|occupation|zip) and the folds
    ``u1.test``..``u5.test`` that become predefined test masks in ``Dataset.folds``.

    Returns a :class:`Dataset` of 943 users x 1682 items, 100,000 ratings on a 1-5 scale and 19
    genres for the official release. Raises :class:`DataError` naming file, line and column for
    any malformed or inconsistent input.
    """
    path = Path(path)
    if not path.is_dir():
        raise DataError("not a folder (expected the MovieLens 100K folder holding u.data)",
                        path=path)
    for required in ("u.data", "u.item", "u.genre"):
        if not (path / required).is_file():
            raise DataError(f"missing file {required} (not a MovieLens 100K folder?)", path=path)

    data = read_table(path / "u.data", sep="\t", header=False, quoting=False, min_fields=4)
    if data.frame.shape[1] != 4:
        data.fail(f"expected 4 tab-separated fields (user, item, rating, timestamp), found "
                  f"{data.frame.shape[1]}", 0)
    data.frame.columns = ["user", "item", "rating", "timestamp"]
    ratings = parse_numbers(data, "rating", "rating", low=1, high=5, integer=True)
    timestamps = parse_timestamps(data, "timestamp")

    genres = read_table(path / "u.genre", sep="|", header=False, quoting=False,
                        encoding="latin-1", min_fields=2)
    genres.frame.columns = ["genre", "index"] + list(genres.frame.columns[2:])
    genre_index = parse_numbers(genres, "index", "genre index", low=0, integer=True)
    if sorted(genre_index) != list(range(len(genre_index))):
        genres.fail("genre indices must be 0..n-1, each once", 0, "index")
    genre_names = genres.text("genre").to_numpy()[np.argsort(genre_index)].tolist()

    n_item_fields = 5 + len(genre_names)
    items = read_table(path / "u.item", sep="|", header=False, quoting=False,
                       encoding="latin-1", min_fields=n_item_fields)
    if items.frame.shape[1] != n_item_fields:
        items.fail(f"expected {n_item_fields} '|'-separated fields (5 + {len(genre_names)} "
                   f"genres), found {items.frame.shape[1]}", 0)
    items.frame.columns = ["item", "title", "release_date", "video_date", "url"] + [
        f"genre:{g}" for g in genre_names]
    flags = np.column_stack([parse_numbers(items, f"genre:{g}", "genre flag", low=0,
                                           high=1, integer=True) for g in genre_names])

    user_file = path / "u.user"
    users = None
    if user_file.is_file():
        users = read_table(user_file, sep="|", header=False, quoting=False, encoding="latin-1",
                           min_fields=5)
        if users.frame.shape[1] != 5:
            users.fail(f"expected 5 '|'-separated fields (user, age, gender, occupation, zip), "
                       f"found {users.frame.shape[1]}", 0)
        users.frame.columns = ["user", "age", "gender", "occupation", "zip_code"]
        ages = parse_numbers(users, "age", "age", low=0, high=150, integer=True)

    id_series = [parse_ids(data, "user", "user"), parse_ids(data, "item", "item"),
                 parse_ids(items, "item", "item")]
    if users is not None:
        id_series.append(parse_ids(users, "user", "user"))
    typed = _typed_ids(*id_series)
    rating_users, rating_items, item_ids = typed[:3]
    _check_unique(items, "item", item_ids, "item")
    _check_known_ids(data, "item", rating_items, item_ids, "item", "u.item")
    user_ids = None
    user_table = None
    if users is not None:
        user_ids = typed[3]
        _check_unique(users, "user", user_ids, "user")
        _check_known_ids(data, "user", rating_users, user_ids, "user", "u.user")
        user_table = pd.DataFrame({"age": ages.astype(np.int64),
                                   "gender": users.text("gender").to_numpy(dtype=object),
                                   "occupation": users.text("occupation").to_numpy(dtype=object),
                                   "zip_code": users.text("zip_code").to_numpy(dtype=object)})

    dates = pd.to_datetime(items.text("release_date"), format="%d-%b-%Y", errors="coerce")
    table = pd.DataFrame({"title": items.text("title").to_numpy(dtype=object),
                          "year": dates.dt.year.to_numpy(dtype=np.float64, na_value=np.nan),
                          "release_date": items.text("release_date").to_numpy(dtype=object),
                          "url": items.text("url").to_numpy(dtype=object)})

    folds, fold_tables = _movielens_100k_folds(path, rating_users, rating_items)
    report = _report([data, genres, items] + ([users] if users is not None else []) + fold_tables,
                     rows_read=len(data.frame))
    return Dataset.from_interactions(
        rating_users, rating_items, ratings, timestamps, user_ids=user_ids, item_ids=item_ids,
        item_table=table, genre_names=genre_names, item_genres=flags.astype(bool),
        user_table=user_table, rating_scale=(1.0, 5.0), name="MovieLens 100K",
        source=str(path), report=report, fold_of_row=folds)


def _movielens_100k_folds(path: Path, users: np.ndarray, items: np.ndarray):
    """Test masks over u.data rows for each present ``uK.test``; DataError for foreign pairs."""
    folds, tables = {}, []
    keys = _pair_keys(users, items)
    for k in range(1, 6):
        test_file = path / f"u{k}.test"
        if not test_file.is_file():
            continue
        test = read_table(test_file, sep="\t", header=False, quoting=False, min_fields=2)
        test.notes = []
        cols = list(test.frame.columns)
        tu, ti = _typed_ids(parse_ids(test, cols[0], "user"), parse_ids(test, cols[1], "item"))
        if tu.dtype != users.dtype or ti.dtype != items.dtype:
            test.fail("ids are not of the same kind as in u.data", 0)
        test_keys = _pair_keys(tu, ti)
        known = test_keys.isin(keys)
        if not known.all():
            row = int(np.argmax(~known))
            test.fail(f"(user {tu[row]}, item {ti[row]}) is not a rating in u.data", row)
        folds[f"u{k}"] = keys.isin(test_keys)
        tables.append(test)
    return folds, tables


def _pair_keys(users: np.ndarray, items: np.ndarray) -> pd.Index:
    """One hashable key per (user, item) pair: packed int64 for integer ids (fast), else tuples."""
    if users.dtype.kind in "iu" and items.dtype.kind in "iu" and len(users) and \
            0 <= users.min() and users.max() < 2**31 and 0 <= items.min() and items.max() < 2**31:
        return pd.Index((users.astype(np.int64) << 32) | items.astype(np.int64))
    return pd.MultiIndex.from_arrays([users, items])


# ------------------------------------------------------------------------- MovieLens latest
def load_movielens_latest(path: str | Path, *, encoding: str | None = None) -> Dataset:
    """Load the MovieLens "latest" format (ml-latest-small, ml-latest, ml-25m, ...).

    Files: ``ratings.csv`` (userId,movieId,rating,timestamp; half-star ratings 0.5-5),
    ``movies.csv`` (movieId,title,genres with titles "Title (Year)" and "|"-separated genres,
    "(no genres listed)" meaning none) and optional ``tags.csv`` (userId,movieId,tag,timestamp):
    each movie's distinct tags joined by "|" become the item column ``tags``.
    The items are every movie of movies.csv (rated or not), the users those who rated.
    """
    path = Path(path)
    if not path.is_dir():
        raise DataError("not a folder (expected a MovieLens folder holding ratings.csv and "
                        "movies.csv)", path=path)
    for required in ("ratings.csv", "movies.csv"):
        if not (path / required).is_file():
            raise DataError(f"missing file {required} (not a MovieLens 'latest' folder?)",
                            path=path)
    movie_roles = {"item": ("movieid",), "title": ("title",), "genres": ("genres",)}
    movies = read_table(path / "movies.csv", sep=",", header=True, encoding=encoding)
    mcols = _roles_from_header(movies, movie_roles, ("item", "title", "genres"))
    rating_roles = {"user": ("userid",), "item": ("movieid",), "rating": ("rating",),
                    "timestamp": ("timestamp",)}
    ratings = read_table(path / "ratings.csv", sep=",", header=True, encoding=encoding)
    rcols = _roles_from_header(ratings, rating_roles, ("user", "item", "rating"))
    values = parse_numbers(ratings, rcols["rating"], "rating", low=0.5, high=5.0)
    timestamps = (parse_timestamps(ratings, rcols["timestamp"]) if "timestamp" in rcols
                  else None)

    tags = None
    if (path / "tags.csv").is_file():
        tags = read_table(path / "tags.csv", sep=",", header=True, encoding=encoding)
        tcols = _roles_from_header(tags, {"item": ("movieid",), "tag": ("tag",)}, ("item", "tag"))

    series = [parse_ids(ratings, rcols["user"], "user"), parse_ids(ratings, rcols["item"], "movie"),
              parse_ids(movies, mcols["item"], "movie")]
    if tags is not None:
        series.append(parse_ids(tags, tcols["item"], "movie"))
    typed = _typed_ids(*series)
    users, rated, movie_ids = typed[:3]
    _check_unique(movies, mcols["item"], movie_ids, "movie")
    _check_known_ids(ratings, rcols["item"], rated, movie_ids, "movie", "movies.csv")

    titles = movies.text(mcols["title"])
    genre_names, genre_matrix = _genres_multi_hot(movies.text(mcols["genres"]))
    table = pd.DataFrame({"title": titles.to_numpy(dtype=object), "year": _year_from_title(titles)})
    if tags is not None:
        tag_movies = typed[3]
        _check_known_ids(tags, tcols["item"], tag_movies, movie_ids, "movie", "movies.csv")
        tag_text = tags.text(tcols["tag"]).to_numpy(dtype=object)
        keep = tag_text != ""
        joined = (pd.DataFrame({"movie": tag_movies[keep], "tag": tag_text[keep]})
                  .drop_duplicates().groupby("movie", sort=False)["tag"].agg("|".join))
        table["tags"] = joined.reindex(movie_ids).fillna("").to_numpy(dtype=object)
    name = "MovieLens " + path.name.removeprefix("ml-") if path.name.startswith("ml-") \
        else f"MovieLens ({path.name})"
    dropped = {}
    if tags is not None and (n_empty := int((tags.text(tcols["tag"]) == "").sum())):
        dropped["empty tags skipped"] = n_empty
    report = _report([ratings, movies] + ([tags] if tags is not None else []),
                     rows_read=len(ratings.frame), dropped=dropped)
    return Dataset.from_interactions(
        users, rated, values, timestamps, item_ids=movie_ids, item_table=table,
        genre_names=genre_names, item_genres=genre_matrix, rating_scale=(0.5, 5.0), name=name,
        source=str(path), report=report)
