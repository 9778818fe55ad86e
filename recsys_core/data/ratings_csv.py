"""Generic ratings files someone uploaded (``user, item[, rating[, timestamp]]``) and their
optional items file, read through :func:`~recsys_core.data.readers.read_table`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .dataset import Dataset
from .readers import (Table, _check_known_ids, _check_unique, _genres_multi_hot, _looks_like_header,
                      _report, _roles_from_header, _typed_ids, _year_from_title, parse_ids,
                      parse_numbers, parse_timestamps, read_table)

# Header names recognised for each role of a generic ratings file (compared lower-case, without
# "_", "-" and spaces).
_ROLE_NAMES = {
    "user": ("user", "userid", "uid", "users", "customer", "customerid", "reviewer", "reviewerid"),
    "item": ("item", "itemid", "iid", "items", "movie", "movieid", "product", "productid", "isbn",
             "asin", "track", "trackid", "book", "bookid", "artist", "artistid"),
    "rating": ("rating", "ratings", "score", "stars", "value", "rate", "bookrating"),
    "timestamp": ("timestamp", "time", "ts", "date", "datetime", "unixtime", "unixtimestamp"),
}
_ITEM_ROLE_NAMES = {
    "item": _ROLE_NAMES["item"],
    "title": ("title", "name", "movietitle", "itemname", "booktitle"),
    "year": ("year", "releaseyear", "yearofpublication"),
    "genres": ("genres", "genre", "categories", "category", "tags"),
}



# ---------------------------------------------------------------------------- generic CSV
def load_ratings_csv(ratings_path: str | Path, items_path: str | Path | None = None, *,
                     sep: str | None = None, header: bool | str = "auto",
                     rating_scale: tuple[float, float] | None = None, implicit: bool = False,
                     encoding: str | None = None, name: str | None = None) -> Dataset:
    """Load a ratings file someone uploaded: ``user, item[, rating[, timestamp]]`` per line.

    Parameters
    ----------
    ratings_path : path
        Delimited text (separator detected among ``, TAB ; | ::`` unless ``sep`` is given). With a
        header line, columns are found by name (userId/user/user_id, itemId/movieId/item,
        rating/score, timestamp/time/date, ...); without one they are taken in that order. No
        rating column (or ``implicit=True``) gives implicit data (every entry 1.0). Timestamps
        are seconds since 1970 or ISO-8601 dates.
    items_path : path, optional
        ``item, title[, year][, genres]`` (header optional; genres "|"-separated). Then every
        item id of the ratings must be listed there, and unrated items are kept.
    rating_scale : (low, high), optional
        Allowed rating range; inferred from the data when omitted (1-5, 0.5-5, 1-10, ... from the
        smallest and largest value) and noted in the report. Ratings must be > 0 either way: a
        sparse matrix cannot tell a stored 0 from a missing rating.
    implicit : bool
        Ignore the rating column.
    encoding : str, optional
        Text encoding; UTF-8 (a byte-order mark is honoured) when omitted.

    Duplicated (user, item) rows keep the latest by timestamp (the last line without
    timestamps); the number merged is ``Dataset.report.duplicates_merged``.
    """
    ratings_path = Path(ratings_path)
    table = read_table(ratings_path, sep=sep, header=header, encoding=encoding,
                       header_names=_ROLE_NAMES)
    if header == "auto" and table.header is None and _first_row_is_unnamed_header(table):
        table = read_table(ratings_path, sep=sep, header=True, encoding=encoding)
    n_fields = table.frame.shape[1]
    notes = []
    if table.header is not None and _looks_like_header(table.header, _ROLE_NAMES):
        cols = _roles_from_header(table, _ROLE_NAMES, ("user", "item"))
    else:
        if table.header is not None:
            notes.append(f"{ratings_path.name}: header names not recognised, columns taken in "
                         "the order user, item, rating, timestamp")
        roles = ("user", "item", "rating", "timestamp")[:n_fields]
        table.frame.columns = [f"column {i + 1}" + (f" ({roles[i]})" if i < len(roles) else "")
                               for i in range(n_fields)]
        cols = dict(zip(roles, table.frame.columns))
        if n_fields > 4:
            notes.append(f"{ratings_path.name}: {n_fields - 4} extra column(s) ignored")
    users = parse_ids(table, cols["user"], "user")
    items = parse_ids(table, cols["item"], "item")

    values = None
    scale = None
    if "rating" in cols and not implicit:
        low, high = rating_scale if rating_scale is not None else (None, None)
        if rating_scale is not None and not (0 < low < high):
            raise DataError(f"rating_scale {rating_scale} must satisfy 0 < low < high",
                            path=ratings_path)
        values = parse_numbers(table, cols["rating"], "rating", low=low, high=high)
        nonpositive = values <= 0
        if nonpositive.any():
            row = int(np.argmax(nonpositive))
            table.fail(f"rating {table.frame[cols['rating']].iloc[row]} is not > 0 (a sparse "
                       "matrix cannot tell a stored 0 from no rating: shift the scale)", row,
                       cols["rating"])
        scale = rating_scale if rating_scale is not None else _infer_scale(values)
        if rating_scale is None:
            notes.append(f"rating scale inferred as {scale[0]:g}-{scale[1]:g}")
    elif "rating" not in cols:
        notes.append("no rating column: implicit feedback (every interaction is 1)")
    timestamps = parse_timestamps(table, cols["timestamp"]) if "timestamp" in cols else None

    tables = [table]
    item_kwargs = {}
    if items_path is not None:
        items_table, item_column, item_ids_s, item_table, genre_names, genre_matrix = \
            _read_items_file(Path(items_path), encoding)
        tables.append(items_table)
        (row_users,) = _typed_ids(users)
        item_ids, rated = _typed_ids(item_ids_s, items)
        _check_unique(items_table, item_column, item_ids, "item")
        _check_known_ids(table, cols["item"], rated, item_ids, "item", Path(items_path).name)
        item_kwargs = dict(item_ids=item_ids, item_table=item_table, genre_names=genre_names,
                           item_genres=genre_matrix)
    else:
        row_users, rated = _typed_ids(users, items)
    report = _report(tables, rows_read=len(table.frame), extra_notes=notes)
    return Dataset.from_interactions(
        row_users, rated, values, timestamps, rating_scale=scale,
        name=name or ratings_path.name, source=str(ratings_path), report=report, **item_kwargs)


def _first_row_is_unnamed_header(table: Table) -> bool:
    """Whether line 1 looks like column names nobody recognised ("a,b,score_x"): its third
    field is not a number while the third field of every other line is."""
    if table.frame.shape[1] < 3 or len(table.frame) < 2:
        return False
    third = table.frame.iloc[:, 2]
    if third.dtype.kind in "iuf":
        return False
    numeric = pd.to_numeric(third, errors="coerce").notna().to_numpy()
    return not numeric[0] and bool(numeric[1:].all())


def _infer_scale(values: np.ndarray) -> tuple[float, float]:
    """A conventional rating scale covering the values: low 0.5 or 1, high 5, 10, 100 or max."""
    lo, hi = float(values.min()), float(values.max())
    low = 1.0 if lo >= 1 else 0.5 if lo >= 0.5 else lo
    high = next((h for h in (5.0, 10.0, 100.0) if hi <= h), hi)
    return low, high


def _read_items_file(path: Path, encoding: str | None):
    """Read ``item, title[, year][, genres]``.

    Returns (Table, id column name, id strings, item table, genre names, genre matrix).
    """
    items = read_table(path, header="auto", encoding=encoding, header_names=_ITEM_ROLE_NAMES)
    if len(items.frame) == 0:
        raise DataError("the file has a header but no item lines", path=path, line=1)
    cols = list(items.frame.columns)
    if items.header is not None and _looks_like_header(items.header, _ITEM_ROLE_NAMES):
        roles = _roles_from_header(items, _ITEM_ROLE_NAMES, ("item", "title"))
    else:
        roles = {"item": cols[0], "title": cols[1]}
        if len(cols) >= 4:
            roles.update(year=cols[2], genres=cols[3])
        elif len(cols) == 3:
            third = items.frame[cols[2]]
            numeric = pd.to_numeric(third, errors="coerce").notna().mean() > 0.5
            roles["year" if numeric else "genres"] = cols[2]
    ids = parse_ids(items, roles["item"], "item")
    titles = items.text(roles["title"])
    if "year" in roles:
        raw_year = items.frame[roles["year"]]
        year = pd.to_numeric(raw_year, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(year) & (raw_year != "").to_numpy()
        if bad.any():
            items.fail(f"non-numeric year {raw_year.iloc[int(np.argmax(bad))]!r}",
                       int(np.argmax(bad)), roles["year"])
    else:
        year = _year_from_title(titles)
    genres_col = items.text(roles["genres"]) if "genres" in roles else pd.Series([""] * len(ids))
    genre_names, genre_matrix = _genres_multi_hot(genres_col)
    table = pd.DataFrame({"title": titles.to_numpy(dtype=object), "year": year})
    return items, roles["item"], ids, table, genre_names, genre_matrix
