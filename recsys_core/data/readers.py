"""Dataset loaders: MovieLens 100K, MovieLens "latest", generic ratings CSV, and default resolution.

Every loader reads its text files through one validating reader (:func:`read_table`) so that bad
input always ends in a :class:`~recsys_core.errors.DataError` that names the file, the 1-based line
(header included) and the column at fault. Whatever a loader leaves out (blank lines, merged
duplicates) is counted in the returned dataset's :class:`~recsys_core.dataset.LoadReport`.

Parsing is vectorized with pandas: its C reader types the all-numeric columns, every other column
stays text and is converted and checked as a whole; only the first offending row is looked at on
its own, to word the message.
"""
from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .dataset import Dataset, LoadReport
from .errors import DataError

DATA_DIR_ENV = "RECSYS_DATA_DIR"
#: Where :func:`recsys_core.download.download_movielens` puts datasets by default (git-ignored).
PROJECT_DATA_DIR = Path(__file__).resolve().parent.parent / "data"
#: Dataset folders looked for inside a data directory, in order of preference.
KNOWN_DATASET_FOLDERS = ("ml-100k", "ml-latest-small")

_SEPARATORS = (",", "\t", ";", "|", "::")
_NO_GENRES = "(no genres listed)"

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


# ---------------------------------------------------------------------------------------- reading
@dataclass
class Table:
    """A text table read as strings, with what is needed to point at a line.

    Attributes
    ----------
    frame : DataFrame
        One column per field (named by the header when there is one, else "column 1", ...):
        int64/float64 when every value is a number, else stripped strings; blank lines removed.
    lines : ndarray of int64, shape (len(frame),)
        1-based line number of each row in the file.
    path : Path
    header : list of str or None
    notes : list of str
        Remarks for the load report (encoding, separator, header).
    blank_lines : int
    """

    frame: pd.DataFrame
    lines: np.ndarray
    path: Path
    header: list[str] | None
    notes: list[str] = field(default_factory=list)
    blank_lines: int = 0

    def text(self, column: str) -> pd.Series:
        """A column as strings, whatever pandas inferred (a title column may be all digits)."""
        s = self.frame[column]
        return s if s.dtype.kind not in "iufb" else s.astype(str)

    def fail(self, message: str, row: int | None = None, column: str | None = None):
        """Raise a DataError at ``row`` (a position in ``frame``) and ``column``."""
        line = None if row is None else int(self.lines[row])
        raise DataError(message, path=self.path, line=line, column=column)


def decode_file(path: str | Path, encoding: str | None = None) -> tuple[str, str]:
    """Read a text file, returning ``(text, encoding used)``.

    ``encoding=None`` detects a UTF-8 or UTF-16 byte-order mark and otherwise requires UTF-8.
    Raises :class:`DataError` for a missing or empty file, an unknown encoding name, NUL bytes
    (a binary file) and bytes the encoding cannot decode (with the line they are on).
    """
    path = Path(path)
    if not path.exists():
        raise DataError("no such file", path=path)
    if path.is_dir():
        raise DataError("is a folder, expected a file", path=path)
    raw = path.read_bytes()
    if encoding is None:
        if raw.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        else:
            encoding = "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataError(f"unknown text encoding {encoding!r}", path=path) from None
    if not raw[:4096].strip() and not raw.strip():
        raise DataError("the file is empty", path=path)
    if not encoding.lower().replace("-", "").startswith(("utf16", "utf32")) and b"\x00" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        raise DataError("contains NUL bytes: a binary file, not a text table", path=path,
                        line=line)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        hint = (" (pass encoding='latin-1' if the file is Latin-1)"
                if encoding.startswith("utf") else "")
        raise DataError(f"byte 0x{raw[exc.start]:02x} cannot be decoded as {encoding}{hint}",
                        path=path, line=line) from None
    if not text.strip():
        raise DataError("the file is empty", path=path)
    return text, encoding


def _sniff_separator(text: str) -> str | None:
    """The separator that splits the first lines into the same number (>1) of fields."""
    lines = [ln for ln in text[:65536].splitlines()[:50] if ln.strip()]
    best, best_fields = None, 1
    for sep in _SEPARATORS:
        counts = {ln.count(sep) for ln in lines}
        if len(counts) == 1 and (n := counts.pop()) > 0:
            # "::" also contains ":"-free text, but a file using "::" counts it consistently; prefer
            # the separator giving the most fields (e.g. "|" over "," inside titles).
            if n + 1 > best_fields:
                best, best_fields = sep, n + 1
    if best is None:  # ragged (e.g. quoted commas in titles): take the most frequent candidate
        totals = {sep: sum(ln.count(sep) for ln in lines) for sep in _SEPARATORS}
        sep, total = max(totals.items(), key=lambda kv: kv[1])
        best = sep if total else None
    return best


def _drop_blank_lines(text: str) -> tuple[str, np.ndarray | None]:
    """Text without blank lines and the 1-based line number of each kept line (None: no change).

    pandas takes the number of fields from the first line and shifts its row numbers on blank
    lines, so they are removed here, once, and counted by the caller.
    """
    body = text[:-1] if text.endswith("\n") else text
    if not (re.match(r"[ \t\r\f\v]*(?:\n|$)", body) or re.search(r"\n[ \t\r\f\v]*(?:\n|$)", body)):
        return text, None
    pieces = body.split("\n")
    keep = [i for i, line in enumerate(pieces) if line.strip()]
    return "\n".join(pieces[i] for i in keep) + "\n", np.asarray(keep, dtype=np.int64) + 1


def read_table(path: str | Path, *, sep: str | None = None, header: bool | str = "auto",
               encoding: str | None = None, quoting: bool = True, min_fields: int = 2,
               header_names: dict | None = None) -> Table:
    """Read a delimited text file into a :class:`Table`.

    Columns whose every value is a number come back as int64/float64 (parsed by pandas' C reader,
    fast); any other column as stripped strings, so that the ``parse_*`` functions can point at
    the first bad value.

    Parameters
    ----------
    path : path of the file.
    sep : str, optional
        Field separator; detected among ``, TAB ; | ::`` when omitted.
    header : bool or "auto"
        Whether the first line holds column names; "auto" decides with ``header_names`` (a header
        is recognised when one of its fields is a known column name).
    encoding : str, optional
        See :func:`decode_file`.
    quoting : bool
        Honour double quotes around fields (CSV style); MovieLens 100K files use none.
    min_fields : int
        Fewer fields per line raise a DataError suggesting a wrong separator.
    """
    path = Path(path)
    text, used = decode_file(path, encoding)
    notes = [f"{path.name}: encoding {used}"]
    if sep is None:
        sep = _sniff_separator(text)
        if sep is None:
            raise DataError(f"found no field separator ({', '.join(map(repr, _SEPARATORS))}) in "
                            f"the first lines: expected at least {min_fields} fields per line",
                            path=path, line=1)
        notes.append(f"{path.name}: separator {sep!r}")
    if len(sep) > 1:  # the fast C parser takes one character; "::" never occurs inside fields
        if "\x1f" in text:
            raise DataError("contains the control character 0x1f", path=path)
        text, sep = text.replace(sep, "\x1f"), "\x1f"
    if "\r" in text:  # Windows and old Mac line ends: pandas splits on both, so count both
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    n_lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    text, line_numbers = _drop_blank_lines(text)
    if line_numbers is None:
        line_numbers = np.arange(1, n_lines + 1, dtype=np.int64)
    n_blank = n_lines - len(line_numbers)
    quote_mode = csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE
    try:
        first = next(csv.reader([text.split("\n", 1)[0]], delimiter=sep, quoting=quote_mode))
    except csv.Error as exc:
        raise DataError(f"cannot be parsed: {exc}", path=path, line=int(line_numbers[0])) from None
    first = [f.strip() for f in first]
    if len(first) < min_fields:
        hint = ": wrong separator?" if len(first) == 1 else ""
        raise DataError(f"line has {len(first)} field(s) separated by {sep!r}, expected at least "
                        f"{min_fields}{hint}", path=path, line=int(line_numbers[0]))
    if header == "auto":
        header = _looks_like_header(first, header_names or {})
    names = None
    text_lines = line_numbers  # file line of each line pandas sees (header included)
    if header:
        names = [f or f"column {i + 1}" for i, f in enumerate(first)]
        for i, n in enumerate(names):
            if n in names[:i]:
                raise DataError(f"column name {n!r} appears twice in the header", path=path,
                                line=int(line_numbers[0]), column=n)
        notes.append(f"{path.name}: header line {', '.join(names)}")
        line_numbers = line_numbers[1:]
        if len(line_numbers) == 0:
            raise DataError("the file has a header line but no data lines", path=path,
                            line=n_lines)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, header=None, skiprows=1 if header else 0,
                            keep_default_na=False, na_filter=False, quoting=quote_mode,
                            low_memory=False, engine="c")
    except pd.errors.ParserError as exc:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if m:
            line = int(text_lines[min(int(m[2]), len(text_lines)) - 1])
            raise DataError(f"expected {m[1]} fields separated by {sep!r} as on the first line, "
                            f"found {m[3]}", path=path, line=line) from None
        m = re.search(r"EOF inside string starting at row (\d+)", str(exc))
        if m:
            row = min(int(m[1]) + (1 if header else 0), len(text_lines) - 1)
            raise DataError("unclosed double quote: the field runs to the end of the file",
                            path=path, line=int(text_lines[row])) from None
        raise DataError(f"cannot be parsed: {str(exc).strip()}", path=path) from None
    except pd.errors.EmptyDataError:
        raise DataError("no fields found (an unclosed double quote?)", path=path,
                        line=int(text_lines[0])) from None
    if names is not None and frame.shape[1] != len(names):
        raise DataError(f"the header names {len(names)} columns but the data lines have "
                        f"{frame.shape[1]} fields", path=path, line=int(line_numbers[0]))
    for col in frame.columns:
        if frame[col].dtype.kind not in "iufb":
            frame[col] = frame[col].astype(str).str.strip()
    frame.columns = names or [f"column {i + 1}" for i in range(frame.shape[1])]
    return Table(frame, line_numbers, path, names, notes, n_blank)


def _normalise(name: str) -> str:
    return re.sub(r"[\s_\-]", "", str(name).lower())


def _looks_like_header(fields: list[str], role_names: dict) -> bool:
    known = {n for names in role_names.values() for n in names}
    return any(_normalise(f) in known for f in fields)


def _roles_from_header(table: Table, role_names: dict, required: tuple[str, ...]) -> dict:
    """Map each role to a column of ``table`` by header name; DataError if a required one is
    missing."""
    roles = {}
    for col in table.frame.columns:
        for role, names in role_names.items():
            if _normalise(col) in names and role not in roles:
                roles[role] = col
                break
    for role in required:
        if role not in roles:
            expected = ", ".join(role_names[role][:4])
            raise DataError(f"missing column: no {role} column in the header (expected one of "
                            f"{expected}, ...; found {', '.join(table.frame.columns)})",
                            path=table.path, line=1, column=role)
    return roles


# ------------------------------------------------------------------------------ column parsers
def parse_ids(table: Table, column: str, kind: str) -> pd.Series:
    """The column as non-empty id strings; DataError at the first empty one."""
    s = table.frame[column]
    if s.dtype.kind in "iuf":
        return s
    empty = (s == "").to_numpy()
    if empty.any():
        table.fail(f"missing {kind} id", int(np.argmax(empty)), column)
    return s


def parse_numbers(table: Table, column: str, what: str, *, low: float | None = None,
                  high: float | None = None, integer: bool = False) -> np.ndarray:
    """The column as finite float64 in [low, high]; DataError naming the first bad value."""
    s = table.frame[column]
    if s.dtype.kind in "iuf":
        values = s.to_numpy(dtype=np.float64)
    else:
        values = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad))
        raw = str(s.iloc[row])
        if raw == "":
            table.fail(f"missing {what} (line has fewer fields?)", row, column)
        if raw.lower() in ("nan", "na", "null", "none", "n/a"):
            table.fail(f"{what} is {raw!r}, not a number", row, column)
        if np.isinf(values[row]):
            table.fail(f"{what} {raw!r} is not finite", row, column)
        table.fail(f"non-numeric {what} {raw!r}", row, column)
    if integer:
        frac = values != np.floor(values)
        if frac.any():
            row = int(np.argmax(frac))
            table.fail(f"{what} '{s.iloc[row]}' is not a whole number", row, column)
    allowed = (f"the allowed range {low:g}..{high:g}" if low is not None and high is not None
               else None)
    for bound, outside, word in ((low, values < (low if low is not None else 0), "below"),
                                 (high, values > (high if high is not None else 0), "above")):
        if bound is not None and outside.any():
            row = int(np.argmax(outside))
            limit = allowed or f"the {'minimum' if word == 'below' else 'maximum'} {bound:g}"
            table.fail(f"{what} {s.iloc[row]} is {word} {limit}", row, column)
    return values


def parse_timestamps(table: Table, column: str) -> np.ndarray:
    """Seconds since the epoch (int64) from numbers or ISO-8601 dates; DataError at a bad one."""
    s = table.frame[column]
    if s.dtype.kind in "iuf":
        return np.floor(parse_numbers(table, column, "timestamp", low=0)).astype(np.int64)
    present = (s != "").to_numpy()
    textual = pd.to_numeric(s, errors="coerce").isna().to_numpy() & present
    if not textual.any() or textual.sum() < present.sum():  # numbers (a stray word is an error)
        values = parse_numbers(table, column, "timestamp", low=0)
        return np.floor(values).astype(np.int64)
    dates = pd.to_datetime(s, errors="coerce", utc=True, format="ISO8601")
    bad = dates.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        if not present[row]:
            table.fail("missing timestamp (line has fewer fields?)", row, column)
        table.fail(f"timestamp {s.iloc[row]!r} is neither seconds since 1970 nor an ISO date",
                   row, column)
    seconds = ((dates - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(
        dtype=np.int64)
    if (seconds < 0).any():
        row = int(np.argmax(seconds < 0))
        table.fail(f"timestamp {s.iloc[row]!r} is before 1970", row, column)
    return seconds


def _show(raw_id) -> str:
    """An id as a person wrote it: 99, 'abc' (NumPy scalars unwrapped)."""
    return repr(raw_id.item() if isinstance(raw_id, np.generic) else raw_id)


def _typed_ids(*series: pd.Series) -> list[np.ndarray]:
    """Id columns as int64 arrays when all of them are integer columns, else as str objects.

    Deciding jointly keeps a ratings file and its items file in the same id type.
    """
    if all(s.dtype.kind in "iu" for s in series):
        return [s.to_numpy(dtype=np.int64) for s in series]
    return [s.astype(str).to_numpy(dtype=object) for s in series]


def _check_known_ids(table: Table, column: str, ids: np.ndarray, universe: np.ndarray, kind: str,
                     universe_file: Path | str):
    known = pd.Series(ids).isin(universe).to_numpy()  # hashing: fast for text ids too
    if not known.all():
        row = int(np.argmax(~known))
        missing = int((~known).sum())
        table.fail(f"{kind} id {_show(ids[row])} is not in {universe_file} ({missing} row(s) with "
                   f"unknown {kind} ids)", row, column)


def _check_unique(table: Table, column: str, ids: np.ndarray, kind: str):
    dup = pd.Series(ids).duplicated().to_numpy()
    if dup.any():
        row = int(np.argmax(dup))
        table.fail(f"{kind} id {_show(ids[row])} is listed twice", row, column)


def _report(tables: list[Table], rows_read: int, extra_notes=(), dropped=None) -> LoadReport:
    blank = sum(t.blank_lines for t in tables)
    dropped = dict(dropped or {})
    if blank:
        dropped["blank lines skipped"] = blank
    notes = tuple(n for t in tables for n in t.notes) + tuple(extra_notes)
    return LoadReport(rows_read=rows_read, dropped=dropped, notes=notes)


def _year_from_title(titles: pd.Series) -> np.ndarray:
    """The year in a trailing "(1995)" or "(2006-2007)" of MovieLens titles; NaN when absent."""
    year = titles.str.extract(r"\((\d{4})(?:[-\u2013]\d{0,4})?\)\s*$", expand=False)
    return pd.to_numeric(year, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _genres_multi_hot(labels: pd.Series) -> tuple[list[str], np.ndarray]:
    """Pipe-separated genre labels -> (sorted genre names, bool multi-hot (n, n_genres))."""
    labels = labels.fillna("").astype(str).replace(_NO_GENRES, "")
    dummies = labels.str.get_dummies(sep="|")
    dummies.columns = [c.strip() for c in dummies.columns]
    dummies = dummies.T.groupby(level=0).max().T if dummies.columns.duplicated().any() else dummies
    dummies = dummies.drop(columns=[c for c in dummies.columns if c in ("", _NO_GENRES)],
                           errors="ignore")
    names = sorted(dummies.columns)
    return names, dummies[names].to_numpy(dtype=bool) if names else np.zeros((len(labels), 0), bool)


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
    :func:`recsys_core.download.download_movielens` puts them. Names are unique: a dataset in
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
