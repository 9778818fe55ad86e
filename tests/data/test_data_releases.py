"""Every MovieLens release format (ml-1m/ml-10m ``::`` .dat, the "latest" CSV of ml-20m/25m/32m),
the pyarrow fast route agreeing with the line-exact reader, the binary dataset cache (reused when
unchanged, rebuilt when a file changes, ignored when damaged), recognition of folders by content,
and downloads of the new releases (pinned MD5, resume, refusal when nothing is pinned) against a
local HTTP server. All data is generated here, a few lines per file.
"""
from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys_core.data import cache, download, find_datasets, load_dataset, load_movielens_dat
from recsys_core.data.download import Archive, download_movielens
from recsys_core.data.movielens import _load_latest, load_movielens_latest
from recsys_core.data.readers import read_clean_columns
from recsys_core.errors import DataError, DownloadError
from tests.data.test_data_download import make_zip, server  # noqa: F401 (fixture)
from tests.data.test_data_numeric_route import assert_agrees_with_line_exact

ML1M_FILES = {
    "ratings.dat": (b"1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"
                    b"2::3408::2::978300275\n3::661::1::978297867\n"),
    "movies.dat": (b"661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
                   b"1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
                   b"3408::Erin Brockovich: A Story (2000)::Drama\n"
                   b"3409::Les Mis\xe9rables (1998)::Drama\n"),  # Latin-1, never rated
    "users.dat": b"1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::15::55117\n",
}
ML10M_FILES = {
    "ratings.dat": b"1::122::5::838985046\n1::185::4.5::838983525\n2::122::0.5::868245777\n",
    "movies.dat": (b"122::Boomerang (1992)::Comedy|Romance\n"
                   b"185::Net, The (1995)::Action|Crime|Thriller\n"),
    "tags.dat": b"15::185::computer::1138537770\n20::185::hacker::1188263867\n",
}
LATEST_FILES = {
    "ratings.csv": (b"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,3.5,964981247\n"
                    b"2,1,0.5,964982224\n2,2,5.0,964983815\n"),
    "movies.csv": (b"movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n"
                   b"2,\"President, The (1995)\",Drama\n3,\"Heat \"\"Redux\"\" (1995)\",Action\n"),
}


def write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


# ------------------------------------------------------------------------------ the formats
def test_ml1m_dat_folder_loads_with_users_and_latin1_titles(tmp_path):
    ds = load_dataset(write(tmp_path / "ml-1m", ML1M_FILES))
    assert (ds.n_users, ds.n_items, ds.n_ratings) == (3, 4, 5)
    assert ds.name == "MovieLens 1M" and ds.rating_scale == (1.0, 5.0)
    assert ds.item_ids.tolist() == [661, 1193, 3408, 3409]
    assert ds.titles([3]) == ["Les Misérables (1998)"]
    assert ds.titles([2]) == ["Erin Brockovich: A Story (2000)"]  # a ":" inside a title
    assert ds.items["year"].tolist() == [1996.0, 1975.0, 2000.0, 1998.0]
    assert "Children's" in ds.genre_names
    assert ds.users["occupation"].tolist() == ["K-12 student", "self-employed", "scientist"]
    assert ds.users["age"].tolist() == [1, 56, 25]
    r = ds.ratings.toarray()
    assert r[0, 1] == 5 and r[2, 0] == 1 and r[1, 2] == 2
    assert ds.timestamps.tolist()[0] == 978302109  # user 1, movie 661 (sorted by item)


def test_ml10m_dat_folder_has_half_stars_and_tags(tmp_path):
    ds = load_dataset(write(tmp_path / "ml-10M100K", ML10M_FILES))
    assert ds.name == "MovieLens 10M" and ds.rating_scale == (0.5, 5.0)
    assert (ds.n_users, ds.n_items, ds.n_ratings) == (2, 2, 3)
    assert sorted(ds.ratings.data.tolist()) == [0.5, 4.5, 5.0]
    assert ds.items["tags"].tolist() == ["", "computer|hacker"]
    assert ds.users is None


def test_latest_fast_route_equals_the_line_exact_reader(tmp_path):
    folder = write(tmp_path / "ml-25m", LATEST_FILES)
    fast_columns = read_clean_columns(
        folder / "ratings.csv", {"user": "int", "item": "int", "rating": "float",
                                 "timestamp": "int"},
        role_names={"user": ("userid",), "item": ("movieid",), "rating": ("rating",),
                    "timestamp": ("timestamp",)})
    assert fast_columns is not None  # a clean file takes the fast route
    fast = load_movielens_latest(folder)
    slow = _load_latest(folder, None, None)
    assert (fast.ratings != slow.ratings).nnz == 0
    assert fast.timestamps.tolist() == slow.timestamps.tolist()
    assert fast.item_ids.tolist() == slow.item_ids.tolist() == [1, 2, 3]
    assert fast.items["title"].tolist() == slow.items["title"].tolist()
    assert fast.items["title"].tolist()[2] == 'Heat "Redux" (1995)'
    assert fast.report == slow.report
    assert fast.name == "MovieLens 25m" and fast.rating_scale == (0.5, 5.0)


@pytest.mark.parametrize("ratings, line, column, says", [
    (b"1::1193::5::978300760\n1::661::9::978302109\n", 2, "rating", "above"),
    (b"1::1193::5::978300760\n\n1::661::x::978302109\n", 3, "rating", "non-numeric"),
    (b"1::1193::5::978300760\n1::999::3::978302109\n", 2, "movie", "not in movies.dat"),
    # one ":" short: fewer fields, so the timestamp lands in the rating column
    (b"1::1193::5::978300760\n1:661::3::978302109\n", 2, "rating", "978302109 is above"),
])
def test_malformed_dat_names_file_line_and_column(tmp_path, ratings, line, column, says):
    folder = write(tmp_path / "ml-1m", {**ML1M_FILES, "ratings.dat": ratings})
    with pytest.raises(DataError, match=says) as info:
        load_movielens_dat(folder)
    message = str(info.value)
    assert f"ratings.dat:{line}" in message
    if column:
        assert f"column '{column}'" in message


def test_unknown_user_in_dat_names_users_file(tmp_path):
    ratings = ML1M_FILES["ratings.dat"] + b"7::661::3::978302109\n"
    folder = write(tmp_path / "ml-1m", {**ML1M_FILES, "ratings.dat": ratings})
    with pytest.raises(DataError, match="user id 7 is not in users.dat"):
        load_dataset(folder)


# ------------------------------------------------------------------------------ the cache
@pytest.fixture
def cached(tmp_path, monkeypatch):
    """A latest-format folder and a cache folder, caching even tiny sources."""
    monkeypatch.setattr(cache, "MIN_CACHED_BYTES", 0)
    folder = write(tmp_path / "data" / "ml-latest", LATEST_FILES)
    return folder, tmp_path / "cache"


def entry_of(cache_dir):
    (entry,) = [p for p in cache_dir.iterdir() if not p.name.startswith(".")]
    return entry


def test_cache_is_written_then_reused_with_the_same_content(cached):
    folder, cache_dir = cached
    first = load_dataset(folder, cache=cache_dir)
    assert first.report.cache == "written"
    second = load_dataset(folder, cache=cache_dir)
    assert second.report.cache == "hit"
    assert "read from the dataset cache (source files unchanged)" in second.report.lines()
    assert (first.ratings != second.ratings).nnz == 0
    assert second.ratings.dtype == np.float32 and second.ratings.indices.dtype == np.int32
    assert second.timestamps.tolist() == first.timestamps.tolist()
    assert second.item_ids.tolist() == first.item_ids.tolist()
    assert second.user_ids.tolist() == first.user_ids.tolist()
    assert second.items["title"].tolist() == first.items["title"].tolist()
    assert second.items["year"].tolist() == first.items["year"].tolist()
    assert second.genre_names == first.genre_names
    assert (second.item_genres == first.item_genres).all()
    assert second.report.notes == first.report.notes
    assert second.fingerprint == first.fingerprint
    with pytest.raises(ValueError):  # read-only like a freshly loaded dataset
        second.ratings.data[0] = 1


def test_cache_keeps_users_folds_and_text_ids(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "MIN_CACHED_BYTES", 0)
    from tests.data.test_data_malformed import ML100K_FILES

    ml100k = write(tmp_path / "ml-100k", ML100K_FILES)
    first = load_dataset(ml100k, cache=tmp_path / "c")
    again = load_dataset(ml100k, cache=tmp_path / "c")
    assert again.report.cache == "hit"
    assert again.users.to_dict("list") == first.users.to_dict("list")
    assert list(again.folds) == ["u1"] and again.folds["u1"].tolist() == first.folds["u1"].tolist()
    assert again.titles([2]) == first.titles([2])


def test_cache_is_rebuilt_when_a_file_changes(cached):
    folder, cache_dir = cached
    load_dataset(folder, cache=cache_dir)
    ratings = folder / "ratings.csv"
    ratings.write_bytes(ratings.read_bytes() + b"3,2,4.0,964983000\n")
    changed = load_dataset(folder, cache=cache_dir)
    assert changed.report.cache == "stale" and changed.n_ratings == 5
    assert load_dataset(folder, cache=cache_dir).report.cache == "hit"


def test_cache_sees_new_content_with_the_same_size_and_mtime(cached):
    folder, cache_dir = cached
    before = load_dataset(folder, cache=cache_dir)
    ratings = folder / "ratings.csv"
    stat = ratings.stat()
    ratings.write_bytes(ratings.read_bytes().replace(b"4.0,964982703", b"2.0,964982703"))
    os.utime(ratings, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert ratings.stat().st_size == stat.st_size
    after = load_dataset(folder, cache=cache_dir)
    assert after.report.cache == "stale"
    assert before.ratings[0, 0] == 4.0 and after.ratings[0, 0] == 2.0


@pytest.mark.parametrize("damage", ["truncate-indices", "flip-data", "flip-meta",
                                    "flip-items", "delete-meta"])
def test_damaged_cache_is_ignored_and_rebuilt(cached, damage):
    folder, cache_dir = cached
    good = load_dataset(folder, cache=cache_dir)
    entry = entry_of(cache_dir)
    if damage == "truncate-indices":
        path = entry / "indices.npy"
        path.write_bytes(path.read_bytes()[:-3])
    elif damage == "delete-meta":
        (entry / "meta.json").unlink()
    else:
        path = entry / {"flip-data": "data.npy", "flip-meta": "meta.json",
                        "flip-items": "items.arrow"}[damage]
        raw = bytearray(path.read_bytes())
        at = len(raw) - 5 if damage != "flip-meta" else raw.index(b"rows_read") + 2
        raw[at] ^= 0x01
        path.write_bytes(bytes(raw))
    rebuilt = load_dataset(folder, cache=cache_dir)
    assert rebuilt.report.cache == "rebuilt"
    assert any("rebuilt from the files" in note for note in rebuilt.report.notes)
    assert (rebuilt.ratings != good.ratings).nnz == 0
    assert rebuilt.items["title"].tolist() == good.items["title"].tolist()
    assert load_dataset(folder, cache=cache_dir).report.cache == "hit"


def test_entries_of_deleted_folders_and_abandoned_writes_are_pruned(cached):
    """The cache must not grow forever: a dataset folder deleted (an upload, an old download)
    frees its entry at the next write; a writer that died leaves a temporary folder that goes
    once it is clearly abandoned; a live entry and a fresh temporary folder stay."""
    import os
    import shutil
    import time

    folder, cache_dir = cached
    load_dataset(folder, cache=cache_dir)
    gone = entry_of(cache_dir)
    other = write(folder.parent / "ml-latest-copy", LATEST_FILES)
    abandoned = cache_dir / ".ds-abandoned-tmp"
    fresh = cache_dir / ".ds-being-written"
    abandoned.mkdir()
    fresh.mkdir()
    old = time.time() - cache.ABANDONED_SECONDS - 60
    os.utime(abandoned, (old, old))
    shutil.rmtree(folder)
    assert load_dataset(other, cache=cache_dir).report.cache == "written"
    assert not gone.exists() and not abandoned.exists() and fresh.exists()
    kept = entry_of(cache_dir)
    assert load_dataset(other, cache=cache_dir).report.cache == "hit"
    assert cache.prune(cache_dir) == [] and kept.exists()


def test_small_sources_and_cache_false_skip_the_cache(tmp_path):
    folder = write(tmp_path / "ml-latest", LATEST_FILES)
    assert load_dataset(folder, cache=tmp_path / "c").report.cache == ""  # below 8 MB
    assert not (tmp_path / "c").exists()
    assert load_dataset(folder, cache=False).report.cache == ""


def test_default_cache_dir_sits_beside_the_run_store(tmp_path, monkeypatch):
    monkeypatch.delenv(cache.CACHE_DIR_ENV, raising=False)
    monkeypatch.setenv(cache.RUNS_DIR_ENV, str(tmp_path / "store" / "runs"))
    assert cache.default_cache_dir() == (tmp_path / "store" / "cache").resolve()
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(tmp_path / "mine"))
    assert cache.default_cache_dir() == tmp_path / "mine"


# ------------------------------------------------------------------------------ discovery
def test_find_datasets_recognises_releases_by_content(tmp_path, monkeypatch):
    write(tmp_path / "my-copy", ML1M_FILES)
    write(tmp_path / "ml-10M100K", ML10M_FILES)
    write(tmp_path / "big", LATEST_FILES)
    write(tmp_path / "other", {"ratings.csv": b"user,item,rating\n1,2,3\n",
                               "movies.csv": b"id,name\n2,x\n"})
    write(tmp_path / "notes", {"ratings.dat": b"hello\n", "movies.dat": b"x\n"})
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("recsys_core.data.discovery.PROJECT_DATA_DIR", tmp_path / "none")
    assert [name for name, _ in find_datasets()] == ["big", "ml-10M100K", "my-copy"]


# ------------------------------------------------------------------------------ downloads
def test_new_releases_are_pinned():
    table = download.MOVIELENS_ARCHIVES
    assert table["ml-1m"].sha256.startswith("a6898adb") and table["ml-1m"].size == 5_917_549
    assert table["ml-10m"].md5 == "ce571fd55effeba0271552578f2648bd"
    assert table["ml-10m"].folder == "ml-10M100K"
    assert table["ml-20m"].sha256.startswith("96f243c3")
    assert table["ml-25m"].sha256.startswith("8b21cfb7")
    assert table["ml-32m"].md5 == "d472be332d4daa821edc399621853b57"
    assert all(a.sha256 or a.md5 for a in table.values())


ML10M_ZIP = make_zip({f"ml-10M100K/{n}": c for n, c in ML10M_FILES.items()})


def point_ml10m(monkeypatch, httpd, md5=None, sha256=None, pinned=True):
    url = f"http://127.0.0.1:{httpd.server_address[1]}/ml-10m.zip"
    httpd.payload = ML10M_ZIP
    md5 = md5 or (hashlib.md5(ML10M_ZIP).hexdigest() if pinned else None)
    monkeypatch.setitem(download.MOVIELENS_ARCHIVES, "ml-10m",
                        Archive(url, sha256, len(ML10M_ZIP), "ml-10M100K", md5=md5))


def test_md5_pinned_download_resumes_and_unpacks(tmp_path, server, monkeypatch):  # noqa: F811
    point_ml10m(monkeypatch, server)
    server.cut_first = True
    folder = download_movielens("ml-10m", tmp_path, retries=1, backoff=0)
    assert folder == tmp_path / "ml-10m"
    assert [r["range"] for r in server.requests] == [None, f"bytes={len(ML10M_ZIP) // 2}-"]
    assert load_dataset(folder).n_ratings == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml-10m"]


def test_md5_mismatch_is_refused(tmp_path, server, monkeypatch):  # noqa: F811
    point_ml10m(monkeypatch, server, md5="0" * 32)
    with pytest.raises(DownloadError, match="MD5 .* expected 0{32}"):
        download_movielens("ml-10m", tmp_path, retries=0)
    assert not (tmp_path / "ml-10m").exists()


def test_unpinned_archive_is_refused_before_any_request(tmp_path, server, monkeypatch):  # noqa: F811
    point_ml10m(monkeypatch, server, pinned=False)
    with pytest.raises(DownloadError, match="checksum not pinned"):
        download_movielens("ml-10m", tmp_path)
    assert server.requests == []


def test_latest_with_an_unknown_encoding_is_a_data_error(tmp_path):
    folder = write(tmp_path / "ml-latest", LATEST_FILES)
    with pytest.raises(DataError, match="unknown text encoding 'klingon'"):
        load_movielens_latest(folder, encoding="klingon")


_cell = st.sampled_from(["1", "2", "3", "9", " 2", "0.5", "4.5", "5.0", "0", "7", "x", "", "nan",
                         "-1", "1e3", '"3"', "964982703", "2020-01-01"])


_tag_line = st.sampled_from([b"1,1,pixar,1", b"1,9,pixar,1", b'2,2,"a, b",5', b"2,2, ,5",
                             b'1,3,"",7', b"1,3,  spaced  ,7", b"1,3,nul\x00,7", b"1,3,caf\xe9,7",
                             b"x,1,pixar,1", b"1,1,pixar", b"1,x,pixar,1", b"", b"1,3,\xc3\xa9t\xc3\xa9,2"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(_cell, min_size=3, max_size=5), min_size=1, max_size=6),
       blank=st.booleans(), tag_lines=st.none() | st.lists(_tag_line, max_size=4))
def test_fast_route_agrees_with_the_line_exact_reader(tmp_path, rows, blank, tag_lines):
    """Whatever ratings.csv and tags.csv hold, the fast route gives the line-exact reader's
    dataset or its exact error message."""
    folder = tmp_path / "fuzz"
    lines = ["userId,movieId,rating,timestamp"] + [",".join(r) for r in rows]
    if blank:
        lines.insert(2, "")
    write(folder, {**LATEST_FILES, "ratings.csv": ("\n".join(lines) + "\n").encode()})
    (folder / "tags.csv").unlink(missing_ok=True)
    if tag_lines is not None:
        (folder / "tags.csv").write_bytes(b"\n".join([b"userId,movieId,tag,timestamp",
                                                      *tag_lines]) + b"\n")
    assert_agrees_with_line_exact(folder)


@settings(max_examples=50, deadline=None)
@given(base=st.sampled_from([0, -7, 2**31 - 3, 3_000_000_000, -(2**40)]),
       ids=st.lists(st.integers(0, 40), min_size=1, max_size=30))
def test_dense_id_indexing_matches_numpy(base, ids):
    """The O(n) id tables give np.unique's answer, also for ids beyond int32 and negative ones."""
    from recsys_core.data.dataset import _lookup, _unique_inverse

    raw = np.asarray(ids, dtype=np.int64) + base
    expected_ids, expected_rows = np.unique(raw, return_inverse=True)
    got_ids, got_rows = _unique_inverse(raw)
    assert got_ids.tolist() == expected_ids.tolist()
    assert got_rows.tolist() == expected_rows.ravel().tolist()
    universe = expected_ids[::-1].copy()
    assert universe[_lookup(universe, raw, "user")].tolist() == raw.tolist()


def test_ids_beyond_int32_stay_on_the_fast_route(tmp_path):
    big = 3_000_000_000
    folder = write(tmp_path / "ml-big", {
        "ratings.csv": f"userId,movieId,rating,timestamp\n{big},1,4.0,1\n7,{big},3.0,2\n".encode(),
        "movies.csv": f"movieId,title,genres\n1,A (1990),Drama\n{big},B (1991),Drama\n".encode()})
    roles = {"user": ("userid",), "item": ("movieid",), "rating": ("rating",),
             "timestamp": ("timestamp",)}
    columns, _ = read_clean_columns(folder / "ratings.csv", {"user": "id", "item": "id",
                                                              "rating": "float", "timestamp": "int"},
                                    role_names=roles)
    assert columns["user"].dtype == np.int64 and columns["user"].tolist() == [big, 7]
    fast, slow = load_movielens_latest(folder), _load_latest(folder, None, None)
    assert fast.user_ids.dtype == np.int64 and fast.user_ids.tolist() == [7, big]
    assert fast.item_ids.tolist() == slow.item_ids.tolist() == [1, big]
    assert (fast.ratings != slow.ratings).nnz == 0
