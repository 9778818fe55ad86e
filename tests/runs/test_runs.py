"""Run folders: round trip, never overwriting, corruption, concurrency, cache keys."""
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.data.dataset import Dataset
from recsys_core.errors import PersistenceError, UnknownIdError
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import ContentBased, Popularity
from recsys_core.runs.store import RUN_FORMAT, RunStore, load_run, run_cache_key, safe_run_name


def small_dataset(string_ids=False):
    rng = np.random.default_rng(3)
    users = rng.integers(0, 12, 80)
    items = rng.integers(0, 9, 80)
    user_ids = [f"u{i:02d}" for i in range(12)] if string_ids else list(range(100, 112))
    item_ids = [f"movie-{i}" for i in range(9)] if string_ids else list(range(1, 10))
    genres = rng.random((9, 3)) < 0.5
    table = pd.DataFrame({"title": [f"Film {i} (199{i})" for i in range(9)],
                          "year": [1990 + i for i in range(9)]})
    return Dataset.from_interactions(
        np.asarray(user_ids, dtype=object)[users] if string_ids else np.asarray(user_ids)[users],
        np.asarray(item_ids, dtype=object)[items] if string_ids else np.asarray(item_ids)[items],
        rng.integers(1, 6, 80), user_ids=user_ids, item_ids=item_ids, item_table=table,
        genre_names=("Comedy", "Drama", "Noir"), item_genres=genres, rating_scale=(1, 5),
        name="small", source="generated:test")


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "runs")


@pytest.mark.parametrize("string_ids", [False, True])
def test_round_trip_keeps_model_ids_titles_and_record(store: RunStore, string_ids):
    data = small_dataset(string_ids)
    split = holdout_split(data, 0.25, seed=1)
    model = ContentBased(measure="dot").fit(split.train)
    info = store.save(model, data, name="content-a", split=split, metrics={"ndcg@10": np.float32(0.5)})
    assert info.name == "content-a" and info.path == store.root / "content-a"
    assert sorted(p.name for p in info.path.iterdir()) == ["ids.npz", "model.npz", "run.json"]

    run = store.load("content-a")
    np.testing.assert_array_equal(run.model.score(np.arange(12)), model.score(np.arange(12)))
    assert run.user_ids.tolist() == data.user_ids.tolist()
    assert run.item_ids.tolist() == data.item_ids.tolist()
    assert run.user_ids.dtype == data.user_ids.dtype
    assert run.titles.tolist() == data.items["title"].tolist()
    np.testing.assert_array_equal(run.item_genres, data.item_genres)
    assert run.genre_names == data.genre_names
    np.testing.assert_array_equal(run.item_years, data.items["year"].to_numpy())
    assert run.user_indices([data.user_ids[3]]).tolist() == [3]
    with pytest.raises(UnknownIdError):
        run.item_indices(["nope"] if string_ids else [999])

    record = run.info
    assert record.model_kind == "content" and record.params == model.get_params()
    assert record.dataset["fingerprint"] == data.fingerprint and record.dataset["n_ratings"] == data.n_ratings
    assert record.split == {"params": split.params, "fingerprint": split.fingerprint,
                            "counts": split.counts()}
    assert record.metrics == {"ndcg@10": 0.5}
    assert record.history == model.history_
    assert record.train_fingerprint == split.train.fingerprint
    assert record.cache_key == run_cache_key("content", model.get_params(), data.fingerprint,
                                             split.params)
    # ids.npz is readable without pickle
    with np.load(info.path / "ids.npz", allow_pickle=False) as ids:
        assert ids["user_ids"].dtype.kind == ("U" if string_ids else "i")


def test_save_never_overwrites(store: RunStore):
    data = small_dataset()
    first = store.save(Popularity().fit(data), data, name="pop")
    second = store.save(Popularity("mean-rating").fit(data), data, name="pop")
    assert (first.name, second.name) == ("pop", "pop-2")
    assert store.load("pop").model.variant == "count"
    with pytest.raises(PersistenceError, match="exists"):
        store.save(Popularity().fit(data), data, name="pop", exact_name=True)
    assert {i.name for i in store.list()} == {"pop", "pop-2"}
    assert not [p for p in store.root.iterdir() if p.name.startswith(".")]  # no temp left over


def test_default_names_list_newest_first_find_and_delete(store: RunStore):
    data = small_dataset()
    names = [store.save(Popularity(damping=float(d)).fit(data), data).name for d in range(3)]
    assert len(set(names)) == 3 and all(n.startswith("popularity-") for n in names)
    assert [i.name for i in store.list()] == names[::-1]
    key = run_cache_key("popularity", Popularity(damping=1.0).get_params(), data.fingerprint, None)
    assert store.find(key).name == names[1]
    assert store.find(run_cache_key("popularity", {}, data.fingerprint, None)) is None
    store.delete(names[1])
    assert store.find(key) is None and [i.name for i in store.list()] == [names[2], names[0]]
    with pytest.raises(PersistenceError, match="no run"):
        store.delete(names[1])


def test_cache_key_changes_with_every_setting():
    base = dict(kind="wals", params={"factors": 8, "regularization": 0.1},
                dataset_fingerprint="abc", split_params={"method": "holdout", "seed": 0})
    key = run_cache_key(**base)
    assert key == run_cache_key("wals", {"regularization": 0.1, "factors": 8}, "abc",
                                {"seed": 0, "method": "holdout"})  # order does not matter
    variants = [dict(base, kind="mf"), dict(base, params={"factors": 16, "regularization": 0.1}),
                dict(base, params={"factors": 8, "regularization": 0.2}),
                dict(base, params={"factors": 8}), dict(base, dataset_fingerprint="abd"),
                dict(base, split_params={"method": "holdout", "seed": 1}),
                dict(base, split_params=None)]
    keys = {run_cache_key(**v) for v in variants}
    assert key not in keys and len(keys) == len(variants)


def test_invalid_names_are_refused(store: RunStore):
    data = small_dataset()
    model = Popularity().fit(data)
    for name in ("../escape", "a/b", ".hidden", "", "x" * 200):
        with pytest.raises(PersistenceError, match="invalid run name"):
            store.save(model, data, name=name)
    with pytest.raises(PersistenceError, match="invalid run name"):
        store.load("../runs")


def test_model_from_another_dataset_is_refused(store: RunStore):
    data = small_dataset()
    other = Dataset.from_interactions([0, 1], [0, 1])
    with pytest.raises(PersistenceError, match="users"):
        store.save(Popularity().fit(other), data)
    with pytest.raises(PersistenceError, match="unfitted"):
        store.save(Popularity(), data)


def saved(store: RunStore, name="r") -> Path:
    data = small_dataset()
    return store.save(Popularity().fit(data), data, name=name).path


@pytest.mark.parametrize("damage", ["truncate", "garbage", "not-a-dict", "no-format", "missing-field"])
def test_corrupted_run_json_raises_and_is_left_out_of_the_list(store: RunStore, damage):
    path = saved(store)
    saved(store, "good")
    file = path / "run.json"
    content = json.loads(file.read_text())
    if damage == "truncate":
        file.write_text(file.read_text()[:50])
    elif damage == "garbage":
        file.write_bytes(b"\xff\xfe\x00garbage")
    elif damage == "not-a-dict":
        file.write_text("[1, 2]")
    elif damage == "no-format":
        del content["format"]
        file.write_text(json.dumps(content))
    else:
        del content["cache_key"]
        file.write_text(json.dumps(content))
    with pytest.raises(PersistenceError):
        store.load("r")
    assert [i.name for i in store.list()] == ["good"]


def test_run_from_an_older_format_gives_a_clear_error(store: RunStore):
    path = saved(store)
    content = json.loads((path / "run.json").read_text())
    content["format"] = "recsys-studio-run/0"
    (path / "run.json").write_text(json.dumps(content))
    with pytest.raises(PersistenceError, match=f"run format 'recsys-studio-run/0'.*{RUN_FORMAT}"):
        load_run(path)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing", "foreign-npz", "other-kind"])
def test_corrupted_model_or_ids_raise(store: RunStore, tmp_path: Path, damage):
    path = saved(store)
    model_file = path / "model.npz"
    if damage == "truncate":
        model_file.write_bytes(model_file.read_bytes()[:200])
    elif damage == "garbage":
        model_file.write_bytes(b"PK\x03\x04 not really a zip")
    elif damage == "missing":
        model_file.unlink()
    elif damage == "foreign-npz":
        np.savez(model_file, weights=np.ones(3))
    else:
        data = small_dataset()
        ContentBased().fit(data).save(model_file)
    with pytest.raises(PersistenceError):
        load_run(path)


def test_corrupted_ids_raise(store: RunStore):
    path = saved(store)
    np.savez(path / "ids.npz", user_ids=np.arange(3))
    with pytest.raises(PersistenceError):
        load_run(path)
    with pytest.raises(PersistenceError, match="no such run folder"):
        load_run(path.parent / "absent")


def test_concurrent_writers_with_the_same_name_do_not_clobber(store: RunStore):
    data = small_dataset()
    models = [Popularity(damping=float(d)).fit(data) for d in range(8)]
    barrier = threading.Barrier(len(models))

    def save(model):
        barrier.wait()
        return store.save(model, data, name="same").name

    with ThreadPoolExecutor(len(models)) as pool:
        names = list(pool.map(save, models))
    assert len(set(names)) == len(models)
    damping = {store.load(name).model.damping for name in names}
    assert damping == {float(d) for d in range(8)}  # every model survived under its own name
    assert not [p for p in store.root.iterdir() if p.name.startswith(".")]


def test_concurrent_exact_name_writers_one_wins(store: RunStore):
    data = small_dataset()
    models = [Popularity(damping=float(d)).fit(data) for d in range(6)]
    barrier = threading.Barrier(len(models))

    def save(model):
        barrier.wait()
        try:
            return store.save(model, data, name="exact", exact_name=True).name
        except PersistenceError:
            return None

    with ThreadPoolExecutor(len(models)) as pool:
        results = list(pool.map(save, models))
    assert results.count("exact") == 1 and results.count(None) == len(models) - 1
    winner = models[results.index("exact")]
    assert store.load("exact").model.damping == winner.damping


@pytest.mark.parametrize("text, expected", [
    ("My WALS, 64 factors", "My-WALS-64-factors"), ("../../etc", "etc"), ("", "run"),
    ("...", "run"), ("ok_name-1.2", "ok_name-1.2"), ("é" * 3 + "x", "x"), ("a" * 300, "a" * 128)])
def test_safe_run_name_gives_valid_names(store: RunStore, text, expected):
    name = safe_run_name(text)
    assert name == expected
    data = small_dataset()
    assert store.save(Popularity().fit(data), data, name=name).name == name


def test_leftovers_of_crashed_saves_are_swept_after_a_day(store: RunStore):
    import os
    import time

    data = small_dataset()
    saved(store, "first")
    old, fresh = store.root / ".tmp-crashed-abc", store.root / ".tmp-running-def"
    for folder in (old, fresh):
        folder.mkdir()
        (folder / "model.npz").write_bytes(b"partial")
    a_while_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (a_while_ago, a_while_ago))
    store.save(Popularity().fit(data), data, name="second")
    assert not old.exists() and fresh.exists()  # a save in progress elsewhere is left alone
    assert [i.name for i in store.list()] == ["second", "first"]
