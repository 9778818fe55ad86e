"""Damaged runs on disk (issue 10): run.json with wrong types, model.npz with arrays of the wrong
shape or random bytes, folders copied by hand, deletes racing, invalid run names checked first.
Each is reported as a PersistenceError subclass with a clear message, never a traceback."""
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from recsys_core.cli import main
from recsys_core.data.demo import make_demo_dataset
from recsys_core.errors import (DamagedFileError, InvalidRunNameError, PersistenceError,
                                RunNotFoundError)
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import WALS, Popularity
from recsys_core.persistence import load_npz, save_npz
from recsys_core.runs.store import RunStore, check_run_name, load_run


@pytest.fixture(scope="module")
def data():
    return make_demo_dataset(seed=0, n_users=60, n_items=40)


@pytest.fixture
def store(tmp_path, data) -> RunStore:
    """A store with a WALS run "good" and a popularity run "pop"."""
    s = RunStore(tmp_path / "runs")
    split = holdout_split(data, 0.2, seed=0)
    s.save(WALS(factors=4, iterations=2).fit(split.train), data, name="good", split=split,
           metrics={"ndcg@10": 0.25})
    s.save(Popularity().fit(data), data, name="pop")
    return s


def edit_info(store: RunStore, name: str, **changes):
    file = store.root / name / "run.json"
    record = json.loads(file.read_text())
    record.update(changes)
    file.write_text(json.dumps(record))


@pytest.mark.parametrize("field, value, says", [
    ("created", 12345, "created must be an ISO-8601 time"),
    ("dataset", None, "dataset must be a mapping"),
    ("metrics", {"ndcg@10": "high"}, "metrics must be a mapping of metric names to numbers"),
    ("params", [1, 2], "params must be a mapping"),
    ("history", "lots", "history must be a list"),
    ("history", [{"loss": 1.0}], "history must be a list of mappings of an int epoch"),
    ("split", {"params": {"method": "holdout", "test_fraction": "most"}}, "split must be null"),
    ("split", {"params": {"method": "leave_last_k_out", "k": "x"}}, "split must be null"),
])
def test_run_json_with_wrong_types_is_listed_as_damaged_and_can_be_deleted(store, field, value,
                                                                           says):
    edit_info(store, "good", **{field: value})
    usable, damaged = store.scan()
    assert [i.name for i in usable] == ["pop"]
    assert [d.name for d in damaged] == ["good"]
    assert says in damaged[0].reason
    with pytest.raises(DamagedFileError, match=says):
        store.load("good")
    store.delete("good")
    assert store.scan() == (usable, [])


def test_a_damaged_run_keeps_its_dataset_when_run_json_still_names_it(store, data):
    edit_info(store, "good", created=12345)
    assert store.damaged()[0].dataset_fingerprint == data.fingerprint
    edit_info(store, "pop", dataset=None)
    assert {d.name: d.dataset_fingerprint for d in store.damaged()}["pop"] is None


def test_null_and_nan_metrics_are_undefined_not_an_error(store):
    file = store.root / "good" / "run.json"
    file.write_text(file.read_text().replace('"ndcg@10": 0.25', '"ndcg@10": NaN, "rmse": null'))
    info = store.info("good")
    assert info.metrics == {"ndcg@10": None, "rmse": None}
    assert store.load("good").info.metrics == {"ndcg@10": None, "rmse": None}


def cut_item_embeddings(store: RunStore, name: str, rows: int = 10, keep_layout: bool = False):
    """Rewrite model.npz with item embeddings cut to ``rows`` rows (metadata otherwise kept)."""
    path = store.root / name / "model.npz"
    arrays, meta = load_npz(path, expected_kind="model")
    arrays["item_embeddings_"] = arrays["item_embeddings_"][:rows]
    if keep_layout:  # the layout still says the original shape
        import io
        import zipfile

        buf = io.BytesIO()
        np.savez(buf, **arrays, __metadata__=np.frombuffer(json.dumps(meta).encode(), np.uint8))
        path.write_bytes(buf.getvalue())
        assert zipfile.is_zipfile(path)
    else:  # save_npz records the new (wrong) shape: only the run's metadata can tell
        meta.pop("format"), meta.pop("library_version"), meta.pop("array_layout")
        save_npz(path, arrays, meta)


@pytest.mark.parametrize("keep_layout", [False, True])
def test_model_arrays_of_the_wrong_shape_are_refused_on_load_and_listed_as_damaged(store,
                                                                                   keep_layout):
    cut_item_embeddings(store, "good", keep_layout=keep_layout)
    with pytest.raises(DamagedFileError, match=r"item_embeddings_.*\(10, 4\)"):
        store.load("good")
    assert [d.name for d in store.damaged()] == ["good"]
    assert "item_embeddings_" in store.damaged()[0].reason


def test_a_wrong_dtype_is_refused(store):
    path = store.root / "good" / "model.npz"
    arrays, meta = load_npz(path, expected_kind="model")
    arrays["user_embeddings_"] = arrays["user_embeddings_"].astype("U8")
    for key in ("format", "library_version", "array_layout"):
        meta.pop(key)
    save_npz(path, arrays, meta)
    with pytest.raises(DamagedFileError, match="user_embeddings_ has dtype"):
        store.load("good")


def test_random_bytes_model_says_damaged_without_numpy_pickle_advice(store):
    (store.root / "good" / "model.npz").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(DamagedFileError) as caught:
        store.load("good")
    assert "damaged" in str(caught.value) and "pickle" not in str(caught.value)
    assert "pickle" not in store.damaged()[0].reason


def test_ids_of_the_wrong_length_are_refused(store):
    path = store.root / "good" / "ids.npz"
    arrays, meta = load_npz(path, expected_kind="run-ids")
    arrays["titles"] = arrays["titles"][:5]
    for key in ("format", "library_version", "array_layout"):
        meta.pop(key)
    save_npz(path, arrays, meta)
    with pytest.raises(DamagedFileError, match="titles"):
        store.load("good")


def test_a_folder_copied_by_hand_loads_and_deletes_by_its_folder(store):
    import shutil

    shutil.copytree(store.root / "good", store.root / "copy")
    info = store.info("copy")
    assert info.name == "copy" and info.path == store.root / "copy"
    assert store.load("copy").info.name == "copy"
    assert {i.name for i in store.list()} == {"good", "pop", "copy"}
    store.delete("copy")
    assert {i.name for i in store.list()} == {"good", "pop"}
    assert store.load("good").info.name == "good"


def test_deleting_a_missing_run_says_so_and_touches_nothing(store):
    store.delete("pop")
    with pytest.raises(RunNotFoundError, match="nothing was deleted"):
        store.delete("pop")
    assert [i.name for i in store.list()] == ["good"]


def test_two_concurrent_deletes_of_one_run_delete_only_it(store):
    outcomes, barrier = [], threading.Barrier(2)

    def delete():
        barrier.wait()
        try:
            store.delete("good")
            outcomes.append("deleted")
        except RunNotFoundError:
            outcomes.append("gone")

    threads = [threading.Thread(target=delete) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["deleted", "gone"]
    assert [i.name for i in store.list()] == ["pop"]


def test_a_damaged_folder_without_run_json_is_listed_and_deletable(store):
    (store.root / "stray").mkdir()
    assert [d.name for d in store.damaged()] == ["stray"]
    store.delete("stray")
    assert store.damaged() == []


@pytest.mark.parametrize("name", ["bad name", "../escape", "", ".hidden", "a/b", "x" * 129])
def test_invalid_run_names_are_refused_with_a_specific_error(name):
    with pytest.raises(InvalidRunNameError, match="invalid run name"):
        check_run_name(name)
    assert issubclass(InvalidRunNameError, PersistenceError)


# ---------------------------------------------------------------------- command line
def test_cli_recommend_and_predict_on_a_damaged_model_exit_2_without_traceback(store, tmp_path,
                                                                               capsys):
    cut_item_embeddings(store, "good")
    pairs = tmp_path / "pairs.csv"
    run = load_run(store.root / "pop")
    pairs.write_text(f"user,item\n{run.user_ids[0]},{run.item_ids[0]}\n")
    for argv in (["recommend", "--run", str(store.root / "good"), "--k", "5"],
                 ["predict", "--run", str(store.root / "good"), "--pairs", str(pairs)]):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2, argv
        assert err.startswith("error: ") and "damaged" in err and "Traceback" not in err


def test_cli_train_checks_the_run_name_before_reading_data_or_training(tmp_path, capsys):
    missing_data = tmp_path / "does-not-exist.csv"  # would fail if it were read first
    code = main(["train", "--data", str(missing_data), "--model", "wals",
                 "--out", str(tmp_path / "bad name!")])
    out, err = capsys.readouterr()
    assert code == 2 and "invalid run name 'bad name!'" in err and "training" not in out


def test_cli_train_refuses_a_holdout_with_nothing_to_hold_out(tmp_path, capsys):
    ratings = tmp_path / "one.csv"
    ratings.write_text("user,item,rating\n1,1,5\n")
    code = main(["train", "--data", str(ratings), "--model", "wals", "--holdout", "0.2",
                 "--out", str(tmp_path / "runs" / "one")])
    out, err = capsys.readouterr()
    assert code == 2 and "too few ratings to hold out" in err
    assert "training" not in out and not (tmp_path / "runs" / "one").exists()


@pytest.mark.parametrize("file", ["model.npz", "ids.npz"])
def test_garbled_compressed_data_is_reported_as_damaged(store, file):
    path = store.root / "good" / file
    content = bytearray(path.read_bytes())
    middle = len(content) // 2
    content[middle:middle + 32] = bytes(32)  # zeros in the middle of a compressed member
    path.write_bytes(bytes(content))
    with pytest.raises(DamagedFileError, match="damaged"):
        store.load("good")
