"""MovieLens loaders: the 100K folder format (with its u1..u5 folds) and the "latest" format
(ml-latest-small, ml-latest, ml-25m, ...), read through :func:`~recsys_core.data.readers.read_table`.
"""
from __future__ import annotations

import codecs
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import DataError
from .dataset import Dataset
from .readers import (_check_known_ids, _check_unique, _genres_multi_hot, _report,
                      _roles_from_header, _typed_ids, _year_from_title, clean_header, parse_ids,
                      parse_numbers, parse_timestamps, read_clean_columns, read_table)


# -------------------------------------------------------------------------------- MovieLens 100K

def _release_folder(path, required: tuple[str, ...], expected: str, kind: str) -> Path:
    """``path`` as a Path once it is a folder holding every file of ``required``; else a
    :class:`DataError`: "not a folder (expected ``expected``)" or "missing file X (not
    ``kind``?)"."""
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"not a folder (expected {expected})", path=path)
    for name in required:
        if not (path / name).is_file():
            raise DataError(f"missing file {name} (not {kind}?)", path=path)
    return path

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
    path = _release_folder(path, ("u.data", "u.item", "u.genre"),
                           "the MovieLens 100K folder holding u.data", "a MovieLens 100K folder")

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
_RATING_ROLES = {"user": ("userid",), "item": ("movieid",), "rating": ("rating",),
                 "timestamp": ("timestamp",)}


def load_movielens_latest(path: str | Path, *, encoding: str | None = None) -> Dataset:
    """Load the MovieLens "latest" format (ml-latest-small, ml-latest, ml-20m, ml-25m, ml-32m).

    Files: ``ratings.csv`` (userId,movieId,rating,timestamp; half-star ratings 0.5-5),
    ``movies.csv`` (movieId,title,genres with titles "Title (Year)" and "|"-separated genres,
    "(no genres listed)" meaning none) and optional ``tags.csv`` (userId,movieId,tag,timestamp):
    each movie's distinct tags joined by "|" become the item column ``tags``.
    The items are every movie of movies.csv (rated or not), the users those who rated.

    A big ratings.csv (from :data:`NUMERIC_ROUTE_MIN_BYTES`) is read by a numba parser of its
    all-number lines that validates as it reads (:mod:`.numeric_csv`), a smaller one or one
    outside that parser's grammar by pyarrow's multi-threaded reader, checked with whole-array
    operations. Both give exactly what the line-exact reader gives; a file that is not clean (or
    fails a check) is read again by the line-exact reader so that the :class:`DataError` names
    the file, line and column at fault.
    """
    path = _release_folder(path, ("ratings.csv", "movies.csv"),
                           "a MovieLens folder holding ratings.csv and movies.csv",
                           "a MovieLens 'latest' folder")
    if _is_utf8(encoding):
        big = (path / "ratings.csv").stat().st_size >= NUMERIC_ROUTE_MIN_BYTES
        for route in ("numeric", "arrow") if big else ("arrow",):
            try:
                return _load_latest(path, encoding, route)
            except _TryAnotherRoute:
                continue
            except DataError:
                break  # read again line by line: its message names the line and column
    return _load_latest(path, encoding, None)


#: ratings.csv files from this size on take the numba parser (:mod:`.numeric_csv`); smaller ones
#: pyarrow's reader, which needs no numba import (~0.3 s). Tests set 0 to run it on a few lines.
NUMERIC_ROUTE_MIN_BYTES = 8 << 20


class _TryAnotherRoute(Exception):
    """The file is outside what a fast route reads; the next route (or the line-exact reader)
    reads it."""


def _is_utf8(encoding: str | None) -> bool:
    """Whether the fast route (UTF-8 only) may read a file in ``encoding`` (None: detect)."""
    try:
        return encoding is None or codecs.lookup(encoding).name == "utf-8"
    except LookupError:  # the line-exact reader words the error
        return False


def _read_ratings_numeric(ratings_path: Path, movie_ids: np.ndarray):
    """ratings.csv through the numba parser: (ParsedRatings, notes).

    _TryAnotherRoute when its header is not exactly userId, movieId, rating, timestamp, or a line
    is outside the parser's grammar; DataError (read again line by line for the message) for an
    unknown movie or a rating outside 0.5-5.
    """
    try:
        from . import numeric_csv
    except ImportError:  # pragma: no cover - numba is a requirement
        raise _TryAnotherRoute from None
    found = clean_header(ratings_path, ",", _RATING_ROLES, tuple(_RATING_ROLES))
    if found is None:
        raise _TryAnotherRoute
    names, roles, notes, body_start = found
    if names != [roles[role] for role in ("user", "item", "rating", "timestamp")]:
        raise _TryAnotherRoute
    try:
        parsed = numeric_csv.parse_ratings_file(ratings_path, body_start, movie_ids)
    except OSError:
        raise _TryAnotherRoute from None
    if isinstance(parsed, int):
        if parsed in (numeric_csv.UNKNOWN_ITEM, numeric_csv.RATING_OUT_OF_RANGE):
            raise DataError("an unknown movie or a rating outside 0.5-5", path=ratings_path)
        raise _TryAnotherRoute
    return parsed, notes


def _load_latest(path: Path, encoding: str | None, route: str | None = None) -> Dataset:
    """The latest-format loader. ``route`` reads ratings.csv: None the line-exact reader,
    "numeric" the numba parser, "arrow" pyarrow's reader (both fast routes raise
    _TryAnotherRoute for a file they do not read, DataError for one that fails a check)."""
    movie_roles = {"item": ("movieid",), "title": ("title",), "genres": ("genres",)}
    movies = read_table(path / "movies.csv", sep=",", header=True, encoding=encoding)
    mcols = _roles_from_header(movies, movie_roles, ("item", "title", "genres"))
    parsed = None
    if route is not None:
        movie_series = parse_ids(movies, mcols["item"], "movie")
        if movie_series.dtype.kind not in "iu":
            raise DataError("movie ids are not all integers", path=path / "movies.csv")
        movie_ids = movie_series.to_numpy(dtype=np.int64)
        _check_unique(movies, mcols["item"], movie_ids, "movie")
        tables = [movies]
    if route == "numeric":
        parsed, rating_notes = _read_ratings_numeric(path / "ratings.csv", movie_ids)
        values, timestamps, n_rows = parsed.ratings, parsed.timestamps, len(parsed.ratings)
    elif route == "arrow":
        fast = read_clean_columns(
            path / "ratings.csv", {"user": "id", "item": "id", "rating": "float",
                                   "timestamp": "int"}, role_names=_RATING_ROLES)
        if fast is None:
            raise _TryAnotherRoute
        columns, rating_notes = fast
        values, timestamps = columns["rating"], columns["timestamp"]
        if not (np.isfinite(values).all() and values.min() >= 0.5 and values.max() <= 5.0
                and timestamps.min() >= 0):
            raise DataError("a rating or timestamp is out of range", path=path / "ratings.csv")
        users, rated = columns["user"], columns["item"]
        n_rows = len(values)
        # Unknown movie ids are left to Dataset.from_interactions' O(n) lookup; its DataError
        # sends the load to the line-exact reader, which words the message.
    else:
        ratings = read_table(path / "ratings.csv", sep=",", header=True, encoding=encoding)
        rcols = _roles_from_header(ratings, _RATING_ROLES, ("user", "item", "rating"))
        values = parse_numbers(ratings, rcols["rating"], "rating", low=0.5, high=5.0)
        timestamps = (parse_timestamps(ratings, rcols["timestamp"]) if "timestamp" in rcols
                      else None)
        users, rated, movie_ids = _typed_ids(parse_ids(ratings, rcols["user"], "user"),
                                             parse_ids(ratings, rcols["item"], "movie"),
                                             parse_ids(movies, mcols["item"], "movie"))
        _check_unique(movies, mcols["item"], movie_ids, "movie")
        _check_known_ids(ratings, rcols["item"], rated, movie_ids, "movie", "movies.csv")
        n_rows = len(ratings.frame)
        tables = [ratings, movies]

    tags = fast_tags = None
    tag_roles = {"item": ("movieid",), "tag": ("tag",)}
    if (path / "tags.csv").is_file() and route is not None:  # ml-25m's: 1.1M lines
        fast_tags = read_clean_columns(path / "tags.csv", {"item": "id", "tag": "text"},
                                       role_names=tag_roles)
    if (path / "tags.csv").is_file() and fast_tags is None:
        tags = read_table(path / "tags.csv", sep=",", header=True, encoding=encoding)
        tcols = _roles_from_header(tags, tag_roles, ("item", "tag"))

    titles = movies.text(mcols["title"])
    genre_names, genre_matrix = _genres_multi_hot(movies.text(mcols["genres"]))
    table = pd.DataFrame({"title": titles.to_numpy(dtype=object), "year": _year_from_title(titles)})
    dropped = {}
    tag_notes = []
    if fast_tags is not None:
        (tag_columns, tag_notes) = fast_tags
        tag_movies, tag_text = tag_columns["item"], tag_columns["tag"]
        if not pd.Series(tag_movies).isin(movie_ids).all():
            raise DataError("a movie of tags.csv is not in movies.csv", path=path / "tags.csv")
    elif tags is not None:
        tag_series = parse_ids(tags, tcols["item"], "movie")
        if movie_ids.dtype.kind == "i" and tag_series.dtype.kind in "iu":
            tag_movies, known = tag_series.to_numpy(dtype=np.int64), movie_ids
        else:  # compared as text, so a stray word is reported with its line
            tag_movies = tag_series.astype(str).to_numpy(dtype=object)
            known = movie_ids.astype(str).astype(object)
        _check_known_ids(tags, tcols["item"], tag_movies, known, "movie", "movies.csv")
        tag_text = tags.text(tcols["tag"]).to_numpy(dtype=object)
        tables.append(tags)
    if fast_tags is not None or tags is not None:
        keep = tag_text != ""
        joined = (pd.DataFrame({"movie": tag_movies[keep], "tag": tag_text[keep]})
                  .drop_duplicates().groupby("movie", sort=False)["tag"].agg("|".join))
        table["tags"] = joined.reindex(movie_ids).fillna("").to_numpy(dtype=object)
        if n_empty := int((~keep).sum()):
            dropped["empty tags skipped"] = n_empty
    name = "MovieLens " + path.name.removeprefix("ml-") if path.name.startswith("ml-") \
        else f"MovieLens ({path.name})"
    report = _report(tables, rows_read=n_rows, extra_notes=tag_notes, dropped=dropped)
    if route is not None:  # the same notes as the line-exact reader, ratings.csv first
        report = dataclasses.replace(report, notes=tuple(rating_notes) + tuple(report.notes))
    if parsed is not None and parsed.canonical:  # the rows are the CSR matrix as they stand
        user_ids, indptr = parsed.user_runs()
        ratings = sp.csr_matrix((values, parsed.cols, indptr),
                                shape=(len(user_ids), len(movie_ids)))
        return Dataset.from_canonical_csr(
            ratings, timestamps, user_ids, movie_ids, item_table=table, genre_names=genre_names,
            item_genres=genre_matrix, rating_scale=(0.5, 5.0), name=name, source=str(path),
            report=report, item_counts=parsed.item_counts)
    if parsed is not None:  # unsorted or repeated pairs: sorted and merged like any file
        users, rated = parsed.users, movie_ids[parsed.cols]
    return Dataset.from_interactions(
        users, rated, values, timestamps, item_ids=movie_ids, item_table=table,
        genre_names=genre_names, item_genres=genre_matrix, rating_scale=(0.5, 5.0), name=name,
        source=str(path), report=report, copy=False)  # the arrays were built here


# ---------------------------------------------------------------- MovieLens 1M and 10M (.dat)
#: Occupation codes of ml-1m's users.dat (its README).
ML1M_OCCUPATIONS = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer")


def load_movielens_dat(path: str | Path) -> Dataset:
    """Load the ``::``-separated MovieLens releases: ml-1m and ml-10m (folder ``ml-10M100K``).

    Files: ``ratings.dat`` (UserID::MovieID::Rating::Timestamp, no header), ``movies.dat``
    (MovieID::Title::Genres, "|"-separated genres; Latin-1 in ml-1m, detected), optional
    ``users.dat`` (ml-1m: UserID::Gender::Age::Occupation::Zip-code; ``age`` keeps the age-group
    code 1, 18, 25, 35, 45, 50, 56 and occupation codes become their names) and optional
    ``tags.dat`` (ml-10m: UserID::MovieID::Tag::Timestamp; distinct tags per movie joined by "|"
    become the item column ``tags``).

    The rating scale is 1-5 when every rating is a whole number (ml-1m), else 0.5-5 (ml-10m).
    ratings.dat takes pyarrow's fast route like :func:`load_movielens_latest`; any fault sends it
    through the line-exact reader for a :class:`DataError` naming file, line and column.
    """
    path = _release_folder(path, ("ratings.dat", "movies.dat"),
                           "a MovieLens 1M/10M folder holding ratings.dat and movies.dat",
                           "a MovieLens 1M/10M folder")
    fast = read_clean_columns(path / "ratings.dat", {"user": "id", "item": "id",
                                                    "rating": "float", "timestamp": "int"},
                                sep="::", header=False)
    if fast is not None:
        try:
            return _load_dat(path, fast)
        except DataError:
            pass  # read again line by line: its message names the line and column
    return _load_dat(path, None)


def _text_encoding(path: Path) -> str:
    """UTF-8 when the file decodes as such, else Latin-1 (ml-1m's movies.dat and users.dat)."""
    try:
        path.read_bytes().decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "latin-1"


def _load_dat(path: Path, fast) -> Dataset:
    movies = read_table(path / "movies.dat", sep="::", header=False, quoting=False,
                        encoding=_text_encoding(path / "movies.dat"), min_fields=3)
    if movies.frame.shape[1] != 3:
        movies.fail(f"expected 3 '::'-separated fields (movie, title, genres), found "
                    f"{movies.frame.shape[1]}", 0)
    movies.frame.columns = ["movie", "title", "genres"]
    movie_series = parse_ids(movies, "movie", "movie")
    if fast is not None:
        columns, notes = fast
        values, timestamps = columns["rating"], columns["timestamp"]
        if not (np.isfinite(values).all() and values.min() >= 0.5 and values.max() <= 5.0
                and timestamps.min() >= 0) or movie_series.dtype.kind not in "iu":
            raise DataError("a rating, timestamp or id is out of range", path=path)
        users, rated = columns["user"], columns["item"]
        movie_ids = movie_series.to_numpy(dtype=np.int64)
        rating_notes, n_rows, tables = notes, len(values), [movies]
    else:
        ratings = read_table(path / "ratings.dat", sep="::", header=False, quoting=False,
                             min_fields=4)
        if ratings.frame.shape[1] != 4:
            ratings.fail(f"expected 4 '::'-separated fields (user, movie, rating, timestamp), "
                         f"found {ratings.frame.shape[1]}", 0)
        ratings.frame.columns = ["user", "movie", "rating", "timestamp"]
        values = parse_numbers(ratings, "rating", "rating", low=0.5, high=5.0)
        timestamps = parse_timestamps(ratings, "timestamp")
        users, rated, movie_ids = _typed_ids(parse_ids(ratings, "user", "user"),
                                             parse_ids(ratings, "movie", "movie"), movie_series)
        _check_known_ids(ratings, "movie", rated, movie_ids, "movie", "movies.dat")
        rating_notes, n_rows, tables = [], len(ratings.frame), [ratings, movies]
    _check_unique(movies, "movie", movie_ids, "movie")

    titles = movies.text("title")
    genre_names, genre_matrix = _genres_multi_hot(movies.text("genres"))
    table = pd.DataFrame({"title": titles.to_numpy(dtype=object), "year": _year_from_title(titles)})

    user_ids = user_table = None
    if (path / "users.dat").is_file():
        people = read_table(path / "users.dat", sep="::", header=False, quoting=False,
                            encoding=_text_encoding(path / "users.dat"), min_fields=5)
        if people.frame.shape[1] != 5:
            people.fail(f"expected 5 '::'-separated fields (user, gender, age, occupation, zip), "
                        f"found {people.frame.shape[1]}", 0)
        people.frame.columns = ["user", "gender", "age", "occupation", "zip_code"]
        ages = parse_numbers(people, "age", "age", low=0, high=150, integer=True)
        jobs = parse_numbers(people, "occupation", "occupation code", low=0,
                             high=len(ML1M_OCCUPATIONS) - 1, integer=True)
        user_series = parse_ids(people, "user", "user")
        if user_series.dtype.kind in "iu" and users.dtype.kind == "i":
            user_ids = user_series.to_numpy(dtype=np.int64)
        else:
            user_ids = user_series.astype(str).to_numpy(dtype=object)
            users = users.astype(str).astype(object)
        _check_unique(people, "user", user_ids, "user")
        if fast is None:
            _check_known_ids(ratings, "user", users, user_ids, "user", "users.dat")
        user_table = pd.DataFrame({
            "age": ages.astype(np.int64), "gender": people.text("gender").to_numpy(dtype=object),
            "occupation": np.asarray(ML1M_OCCUPATIONS, dtype=object)[jobs.astype(np.int64)],
            "zip_code": people.text("zip_code").to_numpy(dtype=object)})
        tables.append(people)

    dropped = {}
    if (path / "tags.dat").is_file():
        tags = read_table(path / "tags.dat", sep="::", header=False, quoting=False,
                          encoding=_text_encoding(path / "tags.dat"), min_fields=3)
        tags.frame.columns = ["user", "movie", "tag"] + [
            f"column {i + 4}" for i in range(tags.frame.shape[1] - 3)]
        tag_series = parse_ids(tags, "movie", "movie")
        if tag_series.dtype.kind in "iu" and movie_ids.dtype.kind == "i":
            tag_movies, known = tag_series.to_numpy(dtype=np.int64), movie_ids
        else:
            tag_movies = tag_series.astype(str).to_numpy(dtype=object)
            known = movie_ids.astype(str).astype(object)
        _check_known_ids(tags, "movie", tag_movies, known, "movie", "movies.dat")
        tag_text = tags.text("tag").to_numpy(dtype=object)
        keep = tag_text != ""
        joined = (pd.DataFrame({"movie": tag_movies[keep], "tag": tag_text[keep]})
                  .drop_duplicates().groupby("movie", sort=False)["tag"].agg("|".join))
        table["tags"] = joined.reindex(movie_ids).fillna("").to_numpy(dtype=object)
        if n_empty := int((~keep).sum()):
            dropped["empty tags skipped"] = n_empty
        tables.append(tags)

    whole = bool(np.all(values == np.round(values))) and values.min() >= 1
    scale = (1.0, 5.0) if whole else (0.5, 5.0)
    folder = path.name.lower()
    name = {"ml-1m": "MovieLens 1M", "ml-10m": "MovieLens 10M",
            "ml-10m100k": "MovieLens 10M"}.get(folder, f"MovieLens ({path.name})")
    report = _report(tables, rows_read=n_rows, dropped=dropped)
    report = dataclasses.replace(report, notes=tuple(rating_notes) + tuple(report.notes))
    return Dataset.from_interactions(
        users, rated, values, timestamps, user_ids=user_ids, item_ids=movie_ids, item_table=table,
        genre_names=genre_names, item_genres=genre_matrix, user_table=user_table,
        rating_scale=scale, name=name, source=str(path), report=report, copy=False)
