"""The numba route for big ratings.csv files (:mod:`recsys_core.data.numeric_csv`) gives exactly the
line-exact reader's dataset (matrix, ids, timestamps, titles, genres, report) or, for a file it
does not accept, hands it on so that the error is the line-exact reader's, word for word.

The route's size threshold is lowered to 0 and its chunks to a few bytes, so a few generated lines
cross several chunk cuts (the 23M-line case in miniature).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys_core.data import movielens, numeric_csv
from recsys_core.data.movielens import _load_latest, _TryAnotherRoute, load_movielens_latest
from recsys_core.errors import DataError

MOVIES = (b'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation|Children\n'
          b'2,"President, The (1995)",Drama\n3,"Heat ""Redux"" (1995)",Action|Crime\n'
          b'5,Nameless,(no genres listed)\n8,"Caf\xc3\xa9, Le (2001)",Comedy|Drama\n'
          b'13,Balto (1995),Animation| Children\n')
MOVIE_IDS = [1, 2, 3, 5, 8, 13]


@pytest.fixture(autouse=True)
def numeric_route_on_small_files(monkeypatch):
    monkeypatch.setattr(movielens, "NUMERIC_ROUTE_MIN_BYTES", 0)
    monkeypatch.setattr(numeric_csv, "_MIN_CHUNK_BYTES", 16)


def write(folder, ratings: bytes, movies: bytes = MOVIES, tags: bytes | None = None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.csv").write_bytes(ratings)
    (folder / "movies.csv").write_bytes(movies)
    if tags is not None:
        (folder / "tags.csv").write_bytes(tags)
    return folder


def ratings_file(rows, newline=b"\n", last_newline=True) -> bytes:
    lines = [b"userId,movieId,rating,timestamp"] + [
        f"{u},{m},{r},{t}".encode() for u, m, r, t in rows]
    return newline.join(lines) + (newline if last_newline else b"")


def generated_rows(seed: int, n: int, *, sort: bool, duplicates: bool):
    """Rows of random users (ids up to 10**6), movies of MOVIES, ratings in every written shape
    (4, 4.0, 4.5, 3.25, 0.5) and timestamps of 1 to 12 digits."""
    rng = np.random.default_rng(seed)
    users = rng.integers(1, 10**6, size=max(2, n // 5))[rng.integers(0, max(2, n // 5), size=n)]
    movies = np.asarray(MOVIE_IDS)[rng.integers(0, len(MOVIE_IDS), size=n)]
    shapes = ["{:.0f}", "{:.1f}", "{:.2f}"]
    stars = rng.integers(1, 11, size=n) / 2
    ratings = [shapes[k].format(s) for k, s in zip(rng.integers(0, 3, size=n), stars)]
    ratings = [r if float(r) >= 0.5 else "0.5" for r in ratings]
    ratings = [("3.25" if k == 0 else r) for k, r in zip(rng.integers(0, 10, size=n), ratings)]
    stamps = [int(t) for t in rng.integers(0, 10**12, size=n) // 10 ** rng.integers(0, 12, size=n)]
    rows = list(zip(users.tolist(), movies.tolist(), ratings, stamps))
    if not duplicates:
        rows = list({(u, m): (u, m, r, t) for u, m, r, t in rows}.values())
    if sort:
        rows.sort(key=lambda row: (row[0], row[1]))
    return rows


def assert_same_dataset(fast, slow):
    assert fast.ratings.shape == slow.ratings.shape
    assert fast.ratings.dtype == slow.ratings.dtype == np.float32
    assert fast.ratings.indptr.tolist() == slow.ratings.indptr.tolist()
    assert fast.ratings.indices.tolist() == slow.ratings.indices.tolist()
    assert fast.ratings.data.tobytes() == slow.ratings.data.tobytes()  # bit for bit
    assert fast.timestamps.dtype == slow.timestamps.dtype == np.int64
    assert fast.timestamps.tolist() == slow.timestamps.tolist()
    assert fast.user_ids.dtype == slow.user_ids.dtype
    assert fast.user_ids.tolist() == slow.user_ids.tolist()
    assert fast.item_ids.tolist() == slow.item_ids.tolist()
    assert fast.items.equals(slow.items)  # titles, years, genres, tags, popularity
    assert fast.genre_names == slow.genre_names
    assert fast.item_genres.tolist() == slow.item_genres.tolist()
    assert fast.report == slow.report
    assert (fast.name, fast.source, fast.rating_scale) == (slow.name, slow.source, slow.rating_scale)
    for a in (fast.ratings.data, fast.ratings.indices, fast.timestamps, fast.user_ids):
        assert not a.flags.writeable


def assert_agrees_with_line_exact(folder):
    """``load_movielens_latest(folder)`` gives what the line-exact reader gives: the same
    dataset, or a DataError with the same message."""
    try:
        slow = _load_latest(folder, None, None)
    except DataError as exc:
        with pytest.raises(DataError) as info:
            load_movielens_latest(folder)
        assert str(info.value) == str(exc)
        return
    assert_same_dataset(load_movielens_latest(folder), slow)


@pytest.mark.parametrize("seed, sort, duplicates", [
    (0, True, False),   # MovieLens as shipped: the rows are the CSR matrix as they stand
    (1, False, False),  # unsorted users and movies
    (2, False, True),   # repeated (user, movie) pairs: the latest timestamp wins
    (3, True, True),    # sorted, with repeats next to each other
])
def test_numeric_route_equals_the_line_exact_reader(tmp_path, seed, sort, duplicates):
    rows = generated_rows(seed, 300, sort=sort, duplicates=duplicates)
    folder = write(tmp_path / "ml-25m", ratings_file(rows))
    slow = _load_latest(folder, None, None)
    for chunk in (16, 1 << 20):  # the sort checked across cuts, and within one chunk
        numeric_csv._MIN_CHUNK_BYTES = chunk
        fast = _load_latest(folder, None, "numeric")  # raises _TryAnotherRoute if not taken
        assert_same_dataset(fast, slow)
    assert_same_dataset(load_movielens_latest(folder), slow)
    assert slow.report.duplicates_merged == (0 if not duplicates else
                                             len(rows) - len({(u, m) for u, m, _, _ in rows}))


def test_numeric_route_reads_crlf_a_missing_last_newline_a_bom_and_tags(tmp_path):
    rows = generated_rows(4, 80, sort=True, duplicates=False)
    tags = b'userId,movieId,tag,timestamp\n1,3,"noir, neo",5\n2,3,pixar,6\n2,1,pixar,7\n'
    for k, (newline, last) in enumerate([(b"\r\n", True), (b"\n", False), (b"\r\n", False)]):
        folder = write(tmp_path / f"ml-{k}", b"\xef\xbb\xbf" * (k == 2) + ratings_file(
            rows, newline, last), tags=tags)
        fast = _load_latest(folder, None, "numeric")
        assert_same_dataset(fast, _load_latest(folder, None, None))
        assert fast.items["tags"].tolist()[2] == "noir, neo|pixar"


def test_chunk_cuts_inside_a_user_and_a_repeated_pair(tmp_path):
    """The sort check spans the cuts: a pair repeated across a cut is merged, not kept twice."""
    rows = [(7, 1, "4.0", 10), (7, 2, "4.5", 11)] * 1 + [(7, 2, "1.0", 12)] + [
        (8, m, "3.0", 13) for m in MOVIE_IDS]
    folder = write(tmp_path / "ml-cut", ratings_file(rows))
    for chunk in (8, 16, 40, 1 << 20):
        numeric_csv._MIN_CHUNK_BYTES = chunk
        fast = _load_latest(folder, None, "numeric")
        assert fast.n_ratings == 8 and fast.report.duplicates_merged == 1
        assert fast.ratings[0, 1] == 1.0 and fast.timestamps[1] == 12
        assert_same_dataset(fast, _load_latest(folder, None, None))


def test_real_sized_parse_matches_numpy(tmp_path):
    """Many chunks on several threads: every field of every row lands in its row."""
    rng = np.random.default_rng(5)
    n = 5000
    users = np.sort(rng.integers(1, 2**31 - 1, size=n))
    movies = rng.choice(MOVIE_IDS, size=n)
    stars = rng.integers(1, 11, size=n) / 2
    stamps = rng.integers(0, 2**40, size=n)
    body = "".join(f"{u},{m},{s},{t}\n" for u, m, s, t in zip(users, movies, stars, stamps))
    path = tmp_path / "ratings.csv"
    path.write_bytes(b"userId,movieId,rating,timestamp\n" + body.encode())
    numeric_csv._MIN_CHUNK_BYTES = 1000
    parsed = numeric_csv.parse_ratings_file(path, 32, np.asarray(MOVIE_IDS), n_threads=3)
    assert parsed.users.tolist() == users.tolist()
    assert np.asarray(MOVIE_IDS)[parsed.cols].tolist() == movies.tolist()
    assert parsed.ratings.tolist() == stars.astype(np.float32).tolist()
    assert parsed.timestamps.tolist() == stamps.tolist()
    assert parsed.item_counts.tolist() == [int((movies == m).sum()) for m in MOVIE_IDS]


@pytest.mark.parametrize("body, status", [
    (b"1,1,4.0,5\n\n2,1,4.0,5\n", numeric_csv.NOT_CLEAN),          # a blank line
    (b"1,1,4.0,5\n2,1, 4.0,5\n", numeric_csv.NOT_CLEAN),           # a space
    (b'1,1,4.0,5\n2,"1",4.0,5\n', numeric_csv.NOT_CLEAN),          # a quote
    (b"1,1,4.0,5\n2,1,4e0,5\n", numeric_csv.NOT_CLEAN),            # an exponent
    (b"1,1,4.,5\n", numeric_csv.NOT_CLEAN),                        # no digit after "."
    (b"1,1,.5,5\n", numeric_csv.NOT_CLEAN),                        # no digit before "."
    (b"1,1,4.0,-5\n", numeric_csv.NOT_CLEAN),                      # a sign
    (b"1,1,4.0,5,9\n", numeric_csv.NOT_CLEAN),                     # a fifth field
    (b"1,1,4.0\n", numeric_csv.NOT_CLEAN),                         # a missing field
    (b"1,1,4.0,5\r2,1,4.0,5\n", numeric_csv.NOT_CLEAN),            # an old Mac line end
    (b"1,1,4.0,1234567890123456\n", numeric_csv.NOT_CLEAN),        # 16 digits
    (b"3000000000,1,4.0,5\n", numeric_csv.ID_BEYOND_INT32),
    (b"1,4,4.0,5\n", numeric_csv.UNKNOWN_ITEM),
    (b"1,1,5.5,5\n", numeric_csv.RATING_OUT_OF_RANGE),
    (b"1,1,0,5\n", numeric_csv.RATING_OUT_OF_RANGE),
])
def test_parser_refuses_what_is_outside_its_grammar(tmp_path, body, status):
    path = tmp_path / "ratings.csv"
    path.write_bytes(b"userId,movieId,rating,timestamp\n1,1,4.0,5\n" + body)
    assert numeric_csv.parse_ratings_file(path, 32, np.asarray(MOVIE_IDS)) == status


@pytest.mark.parametrize("ratings, says", [
    (b"userId,movieId,rating,timestamp\n1,1,4.0,5\n1,4,4.0,5\n", "ratings.csv:3"),
    (b"userId,movieId,rating,timestamp\n1,1,4.0,5\n1,2,7,5\n", "rating 7.0 is above"),
    (b"userId,movieId,rating,timestamp\n1,1,4.0,5\n1,2,x,5\n", "non-numeric rating 'x'"),
    (b"userId,movieId,rating,timestamp\n1,1,4.0,5\n1,2,4.0\n", "missing timestamp"),
    (b"userId,movieId,timestamp\n1,1,5\n", "no rating column"),
])
def test_errors_are_the_line_exact_readers_word_for_word(tmp_path, ratings, says):
    folder = write(tmp_path / "ml-bad", ratings)
    with pytest.raises(DataError) as slow:
        _load_latest(folder, None, None)
    with pytest.raises(DataError) as fast:
        load_movielens_latest(folder)
    assert str(fast.value) == str(slow.value)
    assert says in str(fast.value)


def test_a_file_outside_the_grammar_is_read_by_the_next_route(tmp_path):
    """Ids beyond int32 and a header in another order: same data through pyarrow's route."""
    big = 3_000_000_000
    for k, ratings in enumerate([
            f"userId,movieId,rating,timestamp\n{big},1,4.0,1\n7,2,3.0,2\n".encode(),
            b"movieId,userId,timestamp,rating\n1,7,1,4.0\n2,7,2,3.0\n"]):
        folder = write(tmp_path / f"ml-{k}", ratings)
        with pytest.raises(_TryAnotherRoute):
            _load_latest(folder, None, "numeric")
        assert_same_dataset(load_movielens_latest(folder), _load_latest(folder, None, None))


_cell = st.sampled_from(["1", "2", "3", "13", "4", "0.5", "4.5", "5.0", "3.25", "0", "7", "x",
                         "", " 2", "-1", "1e3", '"3"', "964982703", "1.", ".5", "2147483648"])


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(_cell, min_size=3, max_size=5), min_size=1, max_size=8),
       newline=st.sampled_from(["\n", "\r\n"]), last_newline=st.booleans(),
       chunk=st.sampled_from([4, 16, 64, 1 << 20]))
def test_fuzz_numeric_route_gives_the_line_exact_result_or_message(tmp_path, rows, newline,
                                                                    last_newline, chunk):
    numeric_csv._MIN_CHUNK_BYTES = chunk
    lines = ["userId,movieId,rating,timestamp"] + [",".join(r) for r in rows]
    folder = write(tmp_path / "fuzz", (newline.join(lines) + newline * last_newline).encode())
    assert_agrees_with_line_exact(folder)


def test_catalogues_beyond_65534_movies_use_a_wider_table(tmp_path):
    """uint16 indexes up to 65,534 movies; ml-32m's 87k take the int32 table."""
    ids = np.arange(1, 70_001, dtype=np.int64) * 2
    path = tmp_path / "ratings.csv"
    path.write_bytes(b"userId,movieId,rating,timestamp\n1,2,4.0,5\n1,140000,3.5,6\n2,131072,1,7\n")
    parsed = numeric_csv.parse_ratings_file(path, 32, ids)
    assert ids[parsed.cols].tolist() == [2, 140_000, 131_072]
    assert parsed.canonical and parsed.item_counts.sum() == 3
    path.write_bytes(b"userId,movieId,rating,timestamp\n1,3,4.0,5\n")  # odd: no such movie
    assert numeric_csv.parse_ratings_file(path, 32, ids) == numeric_csv.UNKNOWN_ITEM
    assert numeric_csv.parse_ratings_file(path, 32, ids[:100]) == numeric_csv.UNKNOWN_ITEM
