"""Generic reading of delimited text files: one validating reader (:func:`read_table`) and the
column parsers every loader shares.

Every loader reads its text files through :func:`read_table` so that bad input always ends in a
:class:`~recsys_core.errors.DataError` that names the file, the 1-based line (header included) and
the column at fault. Whatever a loader leaves out (blank lines, merged duplicates) is counted in
the returned dataset's :class:`~recsys_core.data.dataset.LoadReport`.

Parsing is vectorized with pandas: its C reader types the all-numeric columns, every other column
stays text and is converted and checked as a whole; only the first offending row is looked at on
its own, to word the message. The loaders themselves are in :mod:`~recsys_core.data.movielens`
and :mod:`~recsys_core.data.ratings_csv`; :mod:`~recsys_core.data.discovery` picks one.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .dataset import LoadReport

_SEPARATORS = (",", "\t", ";", "|", "::")
_NO_GENRES = "(no genres listed)"
#: pyarrow's CSV block: small enough that both cores get blocks on a 50 MB file, large enough
#: that a 600 MB file is not cut into thousands of chunks (measured: 4 MiB beats 1 and 16).
_BLOCK_BYTES = 4 << 20


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


def read_clean_columns(path: str | Path, columns: dict[str, str], *, sep: str = ",",
                       header: bool = True, role_names: dict | None = None,
                       n_fields: int | None = None) -> tuple[dict[str, np.ndarray], list[str]] | None:
    """Read columns of a clean, UTF-8, delimited file with pyarrow's multi-threaded CSV reader;
    None when the file is anything but clean, so that the caller falls back to
    :func:`read_table`, whose messages name the line and column at fault.

    This is the fast route for the big MovieLens files: it accepts only what :func:`read_table`
    would read to the same values (no blank lines, no NUL bytes or undecodable text in any
    column, the same number of fields on every line, no missing or non-numeric value in a numeric
    role, a header whose names map to the roles), and leaves every message to the slow route.

    Parameters
    ----------
    path : path of the file.
    columns : dict role -> "id", "int", "float" or "text"
        The roles wanted: integer ids (int32, or int64 when one does not fit), int64, float64, or
        text (returned as an object array of stripped str).
    sep : str
        "," or "::" (read as ":" with the empty fields in between checked to be empty).
    header : bool
        Whether the first line holds column names (then found through ``role_names``, like
        :func:`_roles_from_header`); without one, roles are taken in the order of ``columns``.
    n_fields : int, optional
        Fields per line expected without a header (default: as many as ``columns``).

    Returns
    -------
    (dict role -> ndarray of shape (n_rows,), notes) or None.
    """
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pacsv
    except ImportError:  # pragma: no cover - pyarrow is a requirement; stay correct without it
        return None
    path = Path(path)
    found = clean_header(path, sep, role_names if header else None, tuple(columns))
    if found is None:
        return None
    names, roles, notes, _ = found
    # Ids are read as int32 (half the memory of int64 at 23M rows), as int64 when one is larger.
    arrow_type = {"id": pa.int32(), "int": pa.int64(), "float": pa.float64(), "text": pa.string()}
    if header:
        read_options = pacsv.ReadOptions(column_names=names, skip_rows=1,
                                         block_size=_BLOCK_BYTES)
        field_of = {role: roles[role] for role in columns}
        gaps = []
    else:
        n = n_fields or len(columns)
        spread = 2 if sep == "::" else 1  # "a::b" read with ":" gives a, "", b
        names = [f"f{i}" for i in range(spread * n - spread + 1)]
        read_options = pacsv.ReadOptions(column_names=names, block_size=_BLOCK_BYTES)
        field_of = {role: names[spread * i] for i, role in enumerate(columns)}
        gaps = names[1::2] if spread == 2 else []
    # Every column is converted (others as text), so bytes the slow route rejects are seen.
    wanted = {name: pa.string() for name in names}
    wanted.update({name: pa.null() for name in gaps})  # the null type accepts only ""
    wanted.update({field_of[role]: arrow_type[kind] for role, kind in columns.items()})
    delimiter = ":" if sep == "::" else sep
    if len(delimiter) != 1:
        return None
    id_fields = [field_of[role] for role, kind in columns.items() if kind == "id"]

    def read(types):
        return pacsv.read_csv(
            path, read_options=read_options,
            parse_options=pacsv.ParseOptions(delimiter=delimiter, ignore_empty_lines=False,
                                             quote_char='"' if sep == "," else False),
            convert_options=pacsv.ConvertOptions(
                column_types=types, null_values=[""] if gaps else [],
                strings_can_be_null=False, quoted_strings_can_be_null=False))

    try:
        try:
            table = read(wanted)
        except pa.ArrowInvalid as exc:
            # An integer id beyond int32: read the ids as int64 (any other fault: slow route).
            if not (id_fields and re.search(r"to int32: invalid value '[-+]?\d+'", str(exc))):
                raise
            table = read({**wanted, **{name: pa.int64() for name in id_fields}})
    except (pa.ArrowException, OSError, ValueError):
        return None
    if table.num_rows == 0:
        return None
    for name in names:
        column = table.column(name)
        if name in gaps:
            continue
        if column.null_count:
            return None
        if pa.types.is_string(column.type) and pc.any(pc.match_substring(column, "\x00")).as_py():
            return None  # a binary file to the slow route
    out = {}
    for role, kind in columns.items():
        column = table.column(field_of[role])
        # Drop each Arrow column once converted: peak memory is the table plus one column.
        table = table.drop_columns([field_of[role]])
        if kind == "text":  # stripped like read_table's text columns
            out[role] = pd.Series(column.to_pandas()).astype(str).str.strip().to_numpy(dtype=object)
        else:
            out[role] = column.to_numpy()
        del column
    return out, notes


def clean_header(path: Path, sep: str, role_names: dict | None, roles_wanted: tuple[str, ...]
                 ) -> tuple[list[str], dict, list[str], int] | None:
    """The header line of a clean UTF-8 file, as the fast readers accept it; None otherwise.

    Returns ``(names, role -> name, notes, offset of the first data line)``: the notes are
    :func:`read_table`'s (encoding, header line). Without ``role_names`` the file has no header
    (names empty, the data from byte 0, or 3 after a UTF-8 byte-order mark). None for a
    UTF-16 or empty file, an undecodable or duplicated or quoted name, or a wanted role that no
    name maps to.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return None
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or not head.strip():
        return None
    encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    notes = [f"{path.name}: encoding {encoding}"]
    if role_names is None:
        return [], {}, notes, len(codecs.BOM_UTF8) if encoding == "utf-8-sig" else 0
    if b"\n" not in head:
        return None
    first, _ = head.split(b"\n", 1)
    try:
        names = [f.strip() for f in first.rstrip(b"\r").decode(encoding).split(sep)]
    except UnicodeDecodeError:
        return None
    if len(set(names)) != len(names) or any(not n or '"' in n for n in names):
        return None
    roles = {}
    for name in names:
        for role, known in role_names.items():
            if _normalise(name) in known and role not in roles:
                roles[role] = name
                break
    if any(role not in roles for role in roles_wanted):
        return None
    notes.append(f"{path.name}: header line {', '.join(names)}")
    return names, roles, notes, len(first) + 1


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
    """Pipe-separated genre labels -> (sorted genre names, bool multi-hot (n, n_genres)).

    Split once per distinct label (ml-25m: ~1.6k for 62k movies), then gathered per row."""
    codes, distinct = pd.factorize(labels.fillna("").astype(str).to_numpy(dtype=object))
    labels = pd.Series(distinct, dtype=object).replace(_NO_GENRES, "")
    dummies = labels.str.get_dummies(sep="|")
    dummies.columns = [c.strip() for c in dummies.columns]
    dummies = dummies.T.groupby(level=0).max().T if dummies.columns.duplicated().any() else dummies
    dummies = dummies.drop(columns=[c for c in dummies.columns if c in ("", _NO_GENRES)],
                           errors="ignore")
    names = sorted(dummies.columns)
    if not names:
        return names, np.zeros((len(codes), 0), bool)
    return names, dummies[names].to_numpy(dtype=bool)[codes]
