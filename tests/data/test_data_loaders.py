"""Loaders on well-formed input: MovieLens 100K, MovieLens latest, generic CSV, resolution."""
from __future__ import annotations

import numpy as np
import pytest

from recsys_core.data import (default_dataset, detect_format, discovery as data, find_datasets,
                              load_dataset, load_movielens_latest, load_ratings_csv)
from tests.data.test_data_malformed import LATEST_FILES, ML100K_FILES


def write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


# ------------------------------------------------------------------------ MovieLens 100K
def test_ml100k_counts_and_tables(ml100k):
    assert (ml100k.n_users, ml100k.n_items, ml100k.n_ratings) == (943, 1682, 100_000)
    assert len(ml100k.genre_names) == 19 and ml100k.genre_names[0] == "unknown"
    assert ml100k.rating_scale == (1.0, 5.0)
    assert set(np.unique(ml100k.ratings.data)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert ml100k.timestamps.shape == (100_000,) and ml100k.timestamps.min() > 8e8
    toy = ml100k.item_indices([1])[0]
    assert ml100k.items["title"][toy] == "Toy Story (1995)"
    assert ml100k.items["genres"][toy] == "Animation|Children's|Comedy"
    assert ml100k.items["year"][toy] == 1995
    assert list(ml100k.users.columns) == ["age", "gender", "occupation", "zip_code"]
    assert ml100k.users["age"].iloc[0] == 24
    assert ml100k.report.rows_read == 100_000 and ml100k.report.duplicates_merged == 0


def test_ml100k_folds_partition_the_ratings(ml100k):
    assert sorted(ml100k.folds) == ["u1", "u2", "u3", "u4", "u5"]
    stacked = np.stack([ml100k.folds[f"u{k}"] for k in range(1, 6)])
    assert (stacked.sum(axis=1) == 20_000).all()
    assert (stacked.sum(axis=0) == 1).all()  # every rating is in exactly one test fold


def test_ml100k_detected_from_folder_and_from_u_data(ml100k, data_dir):
    folder = data_dir / "ml-100k"
    assert detect_format(folder) == "movielens-100k"
    assert load_dataset(folder).fingerprint == ml100k.fingerprint
    assert load_dataset(folder / "u.data").fingerprint == ml100k.fingerprint


def test_small_ml100k_folder_keeps_unrated_users_and_latin1_titles(tmp_path):
    files = dict(ML100K_FILES)
    files["u.user"] += b"3|30|F|artist|12345\n"  # a user without ratings
    ds = load_dataset(write(tmp_path / "ml", files))
    assert ds.n_users == 3 and ds.user_activity.tolist() == [2, 2, 0]
    assert ds.titles([2]) == ["Café Society (1996)"]
    assert ds.item_genres.tolist() == [[False, False, True], [False, True, False],
                                       [True, False, False]]


# ---------------------------------------------------------------------- MovieLens latest
def test_latest_format_titles_years_genres_and_tags(tmp_path):
    files = dict(LATEST_FILES)
    files["movies.csv"] += b"4,Twin Peaks (1990-1991),Drama|Mystery\n"
    files["tags.csv"] += b"2,1,funny\n2,1,pixar\n3,2,politics\n"
    ds = load_movielens_latest(write(tmp_path / "ml-latest-small", files))
    assert ds.name == "MovieLens latest-small"
    assert (ds.n_users, ds.n_items, ds.n_ratings) == (2, 4, 3)
    assert ds.rating_scale == (0.5, 5.0)
    assert ds.items["title"].tolist()[:2] == ["Toy Story (1995)", "President, The (1995)"]
    years = ds.items["year"].tolist()
    assert years[:2] == [1995, 1995] and np.isnan(years[2]) and years[3] == 1990
    assert ds.genre_names == ("Animation", "Comedy", "Drama", "Mystery")
    assert ds.items["genres"].tolist() == ["Animation|Comedy", "Drama", "", "Drama|Mystery"]
    assert ds.items["tags"].tolist() == ["pixar|funny", "politics", "", ""]
    assert ds.ratings[ds.user_indices([2])[0], ds.item_indices([1])[0]] == 0.5


def test_latest_format_detected_and_ratings_csv_stands_for_its_folder(tmp_path):
    folder = write(tmp_path / "ml-latest-small", LATEST_FILES)
    assert detect_format(folder) == "movielens-latest"
    assert load_dataset(folder / "ratings.csv").fingerprint == load_dataset(folder).fingerprint


# ------------------------------------------------------------------------- generic CSV
@pytest.mark.parametrize("text, sep_note", [
    (b"user,item,rating,timestamp\n1,10,4,100\n1,11,5,200\n2,10,3,300\n", None),
    (b"1,10,4,100\n1,11,5,200\n2,10,3,300\n", "separator ','"),
    (b"1\t10\t4\t100\n1\t11\t5\t200\n2\t10\t3\t300\n", "separator '\\t'"),
    (b"1;10;4;100\n1;11;5;200\n2;10;3;300\n", "separator ';'"),
    (b"1::10::4::100\n1::11::5::200\n2::10::3::300\n", "separator '::'"),
    (b"\xef\xbb\xbfuserId,movieId,rating,timestamp\r\n1,10,4,100\r\n1,11,5,200\r\n2,10,3,300\r\n",
     "encoding utf-8-sig"),
    (b"rating,timestamp,item,user\n4,100,10,1\n5,200,11,1\n3,300,10,2\n", None),
])
def test_generic_csv_layouts_give_the_same_dataset(tmp_path, text, sep_note):
    path = tmp_path / "r.csv"
    path.write_bytes(text)
    ds = load_ratings_csv(path)
    assert ds.user_ids.tolist() == [1, 2] and ds.item_ids.tolist() == [10, 11]
    assert ds.ratings.toarray().tolist() == [[4, 5], [3, 0]]
    assert ds.timestamps.tolist() == [100, 200, 300]
    assert ds.rating_scale == (1.0, 5.0)
    assert ds.name == "r.csv"
    if sep_note:
        assert any(sep_note in note for note in ds.report.notes)


def test_two_columns_are_implicit_feedback_with_string_ids(tmp_path):
    path = tmp_path / "clicks.tsv"
    path.write_text("alice\tbook-1\nbob\tbook-2\nalice\tbook-2\n")
    ds = load_ratings_csv(path)
    assert not ds.is_explicit and ds.rating_scale is None
    assert ds.user_ids.tolist() == ["alice", "bob"]
    assert ds.ratings.toarray().tolist() == [[1, 1], [0, 1]]
    assert ds.timestamps is None


def test_implicit_flag_ignores_the_rating_column(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("1,10,4\n2,10,2\n")
    ds = load_ratings_csv(path, implicit=True)
    assert ds.rating_scale is None and ds.ratings.data.tolist() == [1.0, 1.0]


def test_duplicates_keep_the_latest_rating_and_are_counted(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating,timestamp\n1,10,2,500\n1,10,5,900\n1,10,3,100\n2,10,4,1\n")
    ds = load_ratings_csv(path)
    assert ds.report.rows_read == 4 and ds.report.duplicates_merged == 2
    assert ds.ratings.toarray().ravel().tolist() == [5, 4]
    assert "2 duplicated (user, item) rows merged, latest kept" in ds.report.lines()


def test_blank_lines_are_skipped_and_counted_with_correct_line_numbers(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("\nuser,item,rating\n1,10,4\n\n   \n2,10,oops\n")
    with pytest.raises(data.DataError) as info:
        load_ratings_csv(path)
    assert info.value.line == 6
    path.write_text("\nuser,item,rating\n1,10,4\n\n2,10,3\n")
    ds = load_ratings_csv(path)
    assert ds.report.dropped == {"blank lines skipped": 2}
    assert "2 rows dropped: blank lines skipped" in ds.report.lines()


def test_iso_dates_become_seconds(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating,date\n1,10,4,1970-01-02\n1,11,3,2000-01-01T00:00:10Z\n")
    assert load_ratings_csv(path).timestamps.tolist() == [86_400, 946_684_810]


@pytest.mark.parametrize("values, scale", [
    ("2,3,4", (1.0, 5.0)), ("0.5,3.5,5", (0.5, 5.0)), ("1,7,10", (1.0, 10.0)),
    ("3,50,99", (1.0, 100.0)), ("0.1,0.2", (0.1, 5.0)),
])
def test_rating_scale_is_inferred_and_noted(tmp_path, values, scale):
    path = tmp_path / "r.csv"
    path.write_text("".join(f"{u},{u},{v}\n" for u, v in enumerate(values.split(","))))
    ds = load_ratings_csv(path)
    assert ds.rating_scale == scale
    assert f"rating scale inferred as {scale[0]:g}-{scale[1]:g}" in ds.report.notes


def test_latin1_file_loads_with_the_encoding_given(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes("Zoë,Amélie,5\nJosé,Amélie,4\n".encode("latin-1"))
    ds = load_ratings_csv(path, encoding="latin-1")
    assert sorted(ds.user_ids.tolist()) == ["José", "Zoë"] and ds.item_ids.tolist() == ["Amélie"]


def test_items_file_gives_titles_years_genres_and_keeps_unrated_items(tmp_path):
    ratings = tmp_path / "r.csv"
    ratings.write_text("user,item,rating\n1,10,4\n2,12,3\n")
    items = tmp_path / "items.csv"
    items.write_text('item,title,genres\n10,"Heat, The (1995)",Action|Crime\n11,Quiet (2001),'
                     'Drama\n12,No Year,\n')
    ds = load_dataset(ratings, items)
    assert ds.item_ids.tolist() == [10, 11, 12]
    assert ds.titles([0, 1, 2]) == ["Heat, The (1995)", "Quiet (2001)", "No Year"]
    assert ds.items["year"].tolist()[:2] == [1995, 2001]
    assert ds.genre_names == ("Action", "Crime", "Drama")
    assert ds.item_popularity.tolist() == [1, 0, 1]


def test_items_file_without_header_with_year_column(tmp_path):
    ratings = tmp_path / "r.csv"
    ratings.write_text("a,x,4\nb,y,3\n")
    items = tmp_path / "items.csv"
    items.write_text("x,Film X,1999,Drama\ny,Film Y,2005,Comedy|Drama\n")
    ds = load_ratings_csv(ratings, items)
    assert ds.items["year"].tolist() == [1999, 2005]
    assert ds.items["genres"].tolist() == ["Drama", "Comedy|Drama"]


def test_items_file_ids_and_ratings_ids_share_a_type(tmp_path):
    ratings = tmp_path / "r.csv"
    ratings.write_text("1,10,4\n")
    items = tmp_path / "items.csv"
    items.write_text("item,title\n10,Ten\nX1,Special\n")  # one textual id makes all textual
    ds = load_ratings_csv(ratings, items)
    assert ds.item_ids.tolist() == ["10", "X1"] and ds.user_ids.tolist() == [1]
    assert ds.n_ratings == 1


# ---------------------------------------------------------------- detection and defaults
@pytest.fixture
def no_project_data(monkeypatch, tmp_path):
    empty = tmp_path / "project-data"
    empty.mkdir()
    monkeypatch.setattr(data, "PROJECT_DATA_DIR", empty)
    return empty


def test_find_datasets_in_a_data_dir_holding_dataset_folders(tmp_path, monkeypatch,
                                                             no_project_data):
    root = tmp_path / "shared"
    write(root / "ml-100k", ML100K_FILES)
    write(root / "ml-latest-small", LATEST_FILES)
    monkeypatch.setenv("RECSYS_DATA_DIR", str(root))
    assert find_datasets() == [("ml-100k", root / "ml-100k"),
                               ("ml-latest-small", root / "ml-latest-small")]
    ds = default_dataset()
    assert ds.name == "MovieLens 100K" and ds.source == str(root / "ml-100k")


def test_data_dir_may_be_a_dataset_folder_itself(tmp_path, monkeypatch, no_project_data):
    folder = write(tmp_path / "my-latest", LATEST_FILES)
    monkeypatch.setenv("RECSYS_DATA_DIR", str(folder))
    assert find_datasets() == [("my-latest", folder)]
    assert default_dataset().source == str(folder)


def test_downloaded_data_is_used_when_the_env_var_is_unset(tmp_path, monkeypatch,
                                                           no_project_data):
    monkeypatch.delenv("RECSYS_DATA_DIR", raising=False)
    write(no_project_data / "ml-latest-small", LATEST_FILES)
    assert find_datasets() == [("ml-latest-small", no_project_data / "ml-latest-small")]
    assert default_dataset().name == "MovieLens latest-small"


def test_demo_is_the_last_resort_and_says_why(tmp_path, monkeypatch, no_project_data):
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "nowhere"))
    assert find_datasets() == []
    ds = default_dataset()
    assert ds.name == "demo catalogue" and ds.source.startswith("generated:seed=0")
    notes = " ".join(ds.report.notes)
    assert "holds no MovieLens dataset" in notes and "demo catalogue" in notes


def test_missing_path_and_folder_with_items_are_data_errors(tmp_path):
    with pytest.raises(data.DataError, match="no such file or folder"):
        load_dataset(tmp_path / "missing")
    folder = write(tmp_path / "ml", ML100K_FILES)
    with pytest.raises(data.DataError, match="ratings file, not a folder"):
        load_dataset(folder, tmp_path / "items.csv")


def test_all_digit_titles_and_zip_codes_stay_text(tmp_path):
    ratings = tmp_path / "r.csv"
    ratings.write_text("1,10,4\n")
    items = tmp_path / "items.csv"
    items.write_text("item,title\n10,1917\n")
    ds = load_ratings_csv(ratings, items)
    assert ds.titles([0]) == ["1917"]


def test_unrecognised_header_is_detected_and_columns_taken_in_order(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("who,what,how_much\n1,10,4\n2,10,3\n")
    ds = load_ratings_csv(path)
    assert ds.n_ratings == 2 and ds.report.rows_read == 2
    assert any("header names not recognised" in note for note in ds.report.notes)


def test_env_dataset_hides_a_downloaded_one_of_the_same_name(tmp_path, monkeypatch,
                                                             no_project_data):
    root = tmp_path / "shared"
    write(root / "ml-100k", ML100K_FILES)
    write(no_project_data / "ml-100k", ML100K_FILES)
    write(no_project_data / "ml-latest-small", LATEST_FILES)
    monkeypatch.setenv("RECSYS_DATA_DIR", str(root))
    assert find_datasets() == [("ml-100k", root / "ml-100k"),
                               ("ml-latest-small", no_project_data / "ml-latest-small")]


def write_latest_format(dataset, folder):
    """Write a Dataset as MovieLens "latest" CSVs (what GroupLens ships), with pandas quoting."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    entries = dataset.ratings.tocoo()
    pd.DataFrame({"userId": dataset.user_ids[entries.row], "movieId": dataset.item_ids[entries.col],
                  "rating": entries.data, "timestamp": dataset.timestamps}).to_csv(
        folder / "ratings.csv", index=False)
    genres = dataset.items["genres"].replace("", "(no genres listed)")
    pd.DataFrame({"movieId": dataset.item_ids, "title": dataset.items["title"],
                  "genres": genres}).to_csv(folder / "movies.csv", index=False)
    return folder


def test_latest_format_round_trip_of_the_demo_catalogue(demo, tmp_path):
    ds = load_dataset(write_latest_format(demo, tmp_path / "ml-latest-demo"))
    assert (ds.n_users, ds.n_items, ds.n_ratings) == (demo.n_users, demo.n_items, demo.n_ratings)
    assert (ds.ratings != demo.ratings).nnz == 0
    assert (ds.timestamps == demo.timestamps).all()
    assert ds.items["title"].tolist() == demo.items["title"].tolist()
    assert ds.items["year"].tolist() == demo.items["year"].tolist()
    used = [g for g, any_item in zip(demo.genre_names, demo.item_genres.any(axis=0)) if any_item]
    assert list(ds.genre_names) == sorted(used)
    assert ds.items["genres"].tolist() == demo.items["genres"].tolist()
