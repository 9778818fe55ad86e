"""Malformed input: every case must raise DataError naming the file, line and column at fault.

Each case writes a few small files into a temporary folder, calls one loader, and checks the
exception type and the place in its message (``<path>:<line>`` and ``column '<name>'``). A
hypothesis fuzz test then feeds random text to the generic loader: it may succeed or raise
DataError, nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys_core.data import (load_dataset, load_movielens_100k, load_movielens_latest,
                              load_ratings_csv)
from recsys_core.data.dataset import Dataset
from recsys_core.errors import DataError

# A tiny MovieLens 100K folder: 3 genres, 3 items, 2 users.
ML100K_FILES = {
    "u.genre": b"unknown|0\nAction|1\nComedy|2\n\n",
    "u.item": (b"1|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n"
               b"2|GoldenEye (1995)|01-Jan-1995||http://y|0|1|0\n"
               b"3|Caf\xe9 Society (1996)|01-Jan-1996||http://z|1|0|0\n"),
    "u.user": b"1|24|M|technician|85711\n2|53|F|other|94043\n",
    "u.data": b"1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t878542960\n2\t3\t1\t876893119\n",
    "u1.test": b"1\t2\t3\t876893171\n2\t3\t1\t876893119\n",
}
LATEST_FILES = {
    "movies.csv": (b"movieId,title,genres\n1,Toy Story (1995),Animation|Comedy\n"
                   b"2,\"President, The (1995)\",Drama\n3,Unknown Film,(no genres listed)\n"),
    "ratings.csv": (b"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,3.5,964981247\n"
                    b"2,1,0.5,964982224\n"),
    "tags.csv": b"userId,movieId,tag,timestamp\n1,1,pixar,1445714994\n",
}
RATINGS_HEADER = b"user,item,rating,timestamp\n"


@dataclass
class Case:
    """A malformed input: files to write, the loader call, and where the error must point."""

    id: str
    files: dict
    load: Callable[[Path], object]
    file: str | None  # file named in the message (None: the folder itself)
    line: int | None
    column: str | None
    says: str  # a phrase of the reason
    base: dict = field(default_factory=dict)


def generic(**kwargs):
    return lambda d: load_ratings_csv(d / "r.csv", **kwargs)


def with_items(**kwargs):
    return lambda d: load_ratings_csv(d / "r.csv", d / "items.csv", **kwargs)


def ml100k(d):
    return load_movielens_100k(d)


def latest(d):
    return load_movielens_latest(d)


def replace_in(base: dict, name: str, old: bytes, new: bytes) -> dict:
    files = dict(base)
    assert old in files[name]
    files[name] = files[name].replace(old, new)
    return files


CASES = [
    # ----------------------------------------------------------- generic ratings CSV
    Case("empty file", {"r.csv": b""}, generic(), "r.csv", None, None, "the file is empty"),
    Case("only blank lines", {"r.csv": b"\n  \n\r\n"}, generic(), "r.csv", None, None,
         "the file is empty"),
    Case("header without data", {"r.csv": b"user,item,rating\n"}, generic(), "r.csv", 1, None,
         "header line but no data lines"),
    Case("missing item column", {"r.csv": b"user,rating\n1,4\n"}, generic(), "r.csv", 1, "item",
         "missing column"),
    Case("non-numeric rating", {"r.csv": RATINGS_HEADER + b"1,10,4,5\n2,11,abc,6\n"}, generic(),
         "r.csv", 3, "rating", "non-numeric rating 'abc'"),
    Case("NaN rating", {"r.csv": RATINGS_HEADER + b"1,10,4,5\n2,11,NaN,6\n"}, generic(),
         "r.csv", 3, "rating", "not a number"),
    Case("infinite rating", {"r.csv": RATINGS_HEADER + b"1,10,inf,5\n"}, generic(), "r.csv", 2,
         "rating", "not finite"),
    Case("empty rating field", {"r.csv": RATINGS_HEADER + b"1,10,4,5\n2,11,,6\n"}, generic(),
         "r.csv", 3, "rating", "missing rating"),
    Case("rating above the scale", {"r.csv": RATINGS_HEADER + b"1,10,4,5\n2,11,7,6\n"},
         generic(rating_scale=(1, 5)), "r.csv", 3, "rating", "above the allowed range 1..5"),
    Case("rating below the scale", {"r.csv": RATINGS_HEADER + b"1,10,0.5,5\n"},
         generic(rating_scale=(1, 5)), "r.csv", 2, "rating", "below the allowed range"),
    Case("zero rating", {"r.csv": b"1,10,4\n2,11,0\n"}, generic(), "r.csv", 2,
         "column 3 (rating)",
         "is not > 0"),
    Case("space-separated fields", {"r.csv": b"1 10 4\n2 11 5\n"}, generic(), "r.csv", 1, None,
         "found no field separator"),
    Case("explicit wrong separator", {"r.csv": b"1;10;4\n2;11;5\n"}, generic(sep=","), "r.csv",
         1, None, "wrong separator"),
    Case("ragged line", {"r.csv": b"1,10,4\n2,11,5\n3,12,5,99,100\n"}, generic(sep=","),
         "r.csv", 3, None, "expected 3 fields"),
    Case("header and data disagree", {"r.csv": b"user,item,rating\n1,10,4,5\n"}, generic(),
         "r.csv", 2, None, "header names 3 columns"),
    Case("undecodable bytes", {"r.csv": b"1,10,4\n2,Caf\xe9,5\n"}, generic(), "r.csv", 2, None,
         "cannot be decoded as utf-8"),
    Case("unknown encoding", {"r.csv": b"1,10,4\n"}, generic(encoding="klingon"), "r.csv", None,
         None, "unknown text encoding 'klingon'"),
    Case("binary file", {"r.csv": b"1,10,4\n\x00\x01\x02,\x03\n"}, generic(), "r.csv", 2, None,
         "NUL bytes"),
    Case("missing user id", {"r.csv": RATINGS_HEADER + b"1,10,4,5\n,11,3,6\n"}, generic(),
         "r.csv", 3, "user", "missing user id"),
    Case("negative timestamp", {"r.csv": RATINGS_HEADER + b"1,10,4,5\n2,11,3,-6\n"}, generic(),
         "r.csv", 3, "timestamp", "timestamp -6 is below the minimum 0"),
    Case("word among timestamps", {"r.csv": RATINGS_HEADER + b"1,10,4,5\n2,11,3,yesterday\n"},
         generic(), "r.csv", 3, "timestamp", "non-numeric timestamp 'yesterday'"),
    Case("bad ISO date", {"r.csv": RATINGS_HEADER + b"1,10,4,2020-01-02\n2,11,3,2020-13-45\n"},
         generic(), "r.csv", 3, "timestamp", "nor an ISO date"),
    Case("date before 1970", {"r.csv": RATINGS_HEADER + b"1,10,4,1969-12-31\n"}, generic(),
         "r.csv", 2, "timestamp", "before 1970"),
    Case("duplicated column name", {"r.csv": b"user,item,item\n1,10,4\n"}, generic(), "r.csv",
         1, "item", "appears twice"),
    Case("invalid rating_scale", {"r.csv": b"1,10,4\n"}, generic(rating_scale=(5, 1)), "r.csv",
         None, None, "must satisfy 0 < low < high"),
    Case("item not in items file", {"r.csv": b"user,item,rating\n1,10,4\n2,99,3\n",
                                    "items.csv": b"item,title\n10,Ten\n11,Eleven\n"},
         with_items(), "r.csv", 3, "item", "item id 99 is not in items.csv"),
    Case("item listed twice", {"r.csv": b"user,item,rating\n1,10,4\n",
                               "items.csv": b"item,title\n10,Ten\n11,Eleven\n10,Again\n"},
         with_items(), "items.csv", 4, "item", "listed twice"),
    Case("non-numeric year", {"r.csv": b"user,item,rating\n1,10,4\n",
                              "items.csv": b"item,title,year\n10,Ten,1999\n11,Eleven,soon\n"},
         with_items(), "items.csv", 3, "year", "non-numeric year 'soon'"),
    Case("items file without title", {"r.csv": b"user,item,rating\n1,10,4\n",
                                      "items.csv": b"item,year\n10,1999\n"},
         with_items(), "items.csv", 1, "title", "missing column"),
    Case("missing file", {}, generic(), "r.csv", None, None, "no such file"),
    Case("unclosed quote", {"r.csv": b'1,10,4\n2,"11,5\n3,12,4\n'}, generic(), "r.csv", 2,
         None, "unclosed double quote"),
    Case("old Mac line ends", {"r.csv": b"1,10,4\r2,11,5\r3,12,oops\r"}, generic(), "r.csv", 3,
         "column 3 (rating)", "non-numeric rating 'oops'"),
    Case("a folder given as ratings file", {}, lambda d: load_ratings_csv(d), None, None, None,
         "is a folder, expected a file"),
    # ----------------------------------------------------------- MovieLens latest
    Case("latest: movies.csv without genres", replace_in(
        LATEST_FILES, "movies.csv", b"movieId,title,genres", b"movieId,title,kinds"), latest,
        "movies.csv", 1, "genres", "missing column"),
    Case("latest: half-star above 5", replace_in(LATEST_FILES, "ratings.csv", b"3.5,", b"5.5,"),
         latest, "ratings.csv", 3, "rating", "above the allowed range 0.5..5"),
    Case("latest: unknown movie", replace_in(LATEST_FILES, "ratings.csv", b"2,1,0.5", b"2,7,0.5"),
         latest, "ratings.csv", 4, "movieId", "movie id 7 is not in movies.csv"),
    Case("latest: tag for unknown movie", replace_in(LATEST_FILES, "tags.csv", b"1,1,pixar",
                                                     b"1,8,pixar"),
         latest, "tags.csv", 2, "movieId", "movie id 8 is not in movies.csv"),
    Case("latest: missing movies.csv", {"ratings.csv": LATEST_FILES["ratings.csv"]}, latest,
         None, None, None, "missing file movies.csv"),
    Case("latest: movie listed twice", replace_in(LATEST_FILES, "movies.csv", b"3,Unknown",
                                                  b"1,Unknown"),
         latest, "movies.csv", 4, "movieId", "listed twice"),
    # ----------------------------------------------------------- MovieLens 100K
    Case("100k: three fields on a u.data line", replace_in(ML100K_FILES, "u.data",
                                                           b"\t876893171\n", b"\n"),
         ml100k, "u.data", 2, "timestamp", "missing timestamp"),
    Case("100k: three fields on line 1 of u.data", replace_in(ML100K_FILES, "u.data",
                                                              b"\t874965758\n", b"\n"),
         ml100k, "u.data", 1, None, "expected at least 4"),
    Case("100k: rating 6", replace_in(ML100K_FILES, "u.data", b"2\t1\t4\t", b"2\t1\t6\t"),
         ml100k, "u.data", 3, "rating", "above the allowed range 1..5"),
    Case("100k: half-star rating", replace_in(ML100K_FILES, "u.data", b"1\t2\t3\t",
                                              b"1\t2\t3.5\t"),
         ml100k, "u.data", 2, "rating", "not a whole number"),
    Case("100k: item not in u.item", replace_in(ML100K_FILES, "u.data", b"2\t3\t1",
                                                b"2\t9\t1"),
         ml100k, "u.data", 4, "item", "item id 9 is not in u.item"),
    Case("100k: user not in u.user", replace_in(ML100K_FILES, "u.data", b"2\t3\t1",
                                                b"7\t3\t1"),
         ml100k, "u.data", 4, "user", "user id 7 is not in u.user"),
    Case("100k: u.item field count", replace_in(ML100K_FILES, "u.item", b"|0|0|1\n", b"|0|1\n"),
         ml100k, "u.item", 1, None, "line has 7 field(s) separated by '|', expected at least 8"),
    Case("100k: genre flag 2", replace_in(ML100K_FILES, "u.item", b"http://y|0|1|0",
                                          b"http://y|0|2|0"),
         ml100k, "u.item", 2, "genre:Action", "genre flag 2 is above the allowed range 0..1"),
    Case("100k: fold pair not rated", replace_in(ML100K_FILES, "u1.test", b"2\t3\t1",
                                                 b"2\t2\t1"),
         ml100k, "u1.test", 2, None, "is not a rating in u.data"),
    Case("100k: missing u.data", {k: v for k, v in ML100K_FILES.items() if k != "u.data"},
         ml100k, None, None, None, "missing file u.data"),
    Case("100k: non-numeric age", replace_in(ML100K_FILES, "u.user", b"|53|", b"|old|"),
         ml100k, "u.user", 2, "age", "non-numeric age 'old'"),
    # ----------------------------------------------------------- detection
    Case("folder without a dataset", {"notes.txt": b"hello\n"}, lambda d: load_dataset(d), None,
         None, None, "holds no recognised dataset"),
]


def write(folder: Path, files: dict) -> None:
    for name, content in files.items():
        (folder / name).write_bytes(content)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_input_raises_data_error_at_the_right_place(tmp_path, case):
    write(tmp_path, case.files)
    with pytest.raises(DataError) as info:
        case.load(tmp_path)
    err = info.value
    message = str(err)
    assert case.says in message
    if case.file is not None:
        assert err.path == str(tmp_path / case.file)
        where = str(tmp_path / case.file) + (f":{case.line}" if case.line is not None else "")
        assert message.startswith(where), message
    else:
        assert err.path in (None, str(tmp_path))
    assert err.line == case.line
    assert err.column == case.column
    if case.column is not None:
        assert f"column '{case.column}'" in message


def test_there_are_at_least_twenty_distinct_cases():
    assert len({c.id for c in CASES}) == len(CASES) >= 20


def test_the_well_formed_fixtures_load(tmp_path):
    """The malformed cases are edits of these, so they must load cleanly when left intact."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write(tmp_path / "a", ML100K_FILES)
    write(tmp_path / "b", LATEST_FILES)
    small = load_movielens_100k(tmp_path / "a")
    assert (small.n_users, small.n_items, small.n_ratings) == (2, 3, 4)
    assert small.items["title"][2] == "Café Society (1996)"  # Latin-1 decoded
    assert small.folds["u1"].sum() == 2
    latest_ds = load_movielens_latest(tmp_path / "b")
    assert (latest_ds.n_users, latest_ds.n_items, latest_ds.n_ratings) == (2, 3, 3)


# ----------------------------------------------------------------------------------- fuzzing
_FIELD = st.one_of(st.integers(-3, 12).map(str), st.sampled_from(
    ["", "nan", "inf", "x", "1.5", "1e3", "\"a,b\"", "\"", "2020-01-01", " 3 ", "-0", "1e999"]),
    st.text(alphabet="ab1;|\t é\"", max_size=4))
_LINE = st.lists(_FIELD, min_size=0, max_size=5).map(",".join)


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_LINE, min_size=0, max_size=8), header=st.booleans(),
       encoding=st.sampled_from(["utf-8", "latin-1"]))
def test_random_text_only_ever_raises_data_error(tmp_path, lines, header, encoding):
    text = ("user,item,rating,timestamp\n" if header else "") + "\n".join(lines)
    path = tmp_path / "fuzz.csv"
    path.write_bytes(text.encode(encoding))
    try:
        dataset = load_ratings_csv(path)
    except DataError as err:
        assert str(err)
        return
    assert isinstance(dataset, Dataset)
    assert dataset.n_ratings <= len(lines)
    assert dataset.n_ratings + dataset.report.duplicates_merged == dataset.report.rows_read


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data_lines=st.lists(_LINE, min_size=1, max_size=5),
       item_lines=st.lists(_LINE, min_size=1, max_size=5))
def test_random_items_files_only_ever_raise_data_error(tmp_path, data_lines, item_lines):
    (tmp_path / "r.csv").write_text("user,item,rating\n" + "\n".join(data_lines))
    (tmp_path / "items.csv").write_text("item,title,year,genres\n" + "\n".join(item_lines))
    try:
        load_ratings_csv(tmp_path / "r.csv", tmp_path / "items.csv")
    except DataError:
        pass
