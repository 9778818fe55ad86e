"""Pickle-free atomic npz persistence and the generic model save/load."""
import json
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_core.errors import HyperparameterError, PersistenceError
from recsys_core.models.base import Recommender
from recsys_core.persistence import load_npz, save_npz


class FixedEmbeddings(Recommender):
    """A model whose embeddings are given, to test the base class alone."""

    kind = "test-fixed"
    # Its embeddings are given, not learned: kept out of the training menus (and so out of the
    # page tests that open every trainable kind).
    trains_from_data = False

    def __init__(self, user_vectors=None, item_vectors=None, note="x"):
        self.user_vectors = user_vectors
        self.item_vectors = item_vectors
        self.note = note

    def fit(self, data, *, validation=None, callback=None):
        self._start_fit(data)
        self.user_embeddings_ = np.asarray(self.user_vectors, dtype=np.float32)
        self.item_embeddings_ = np.asarray(self.item_vectors, dtype=np.float32)
        self._end_epoch(1, 1, {"total": 0.0}, callback=callback)
        return self

    def fold_in(self, items, ratings=None):
        return self.item_embeddings_[np.asarray(items)].mean(axis=0)


def test_round_trip_keeps_arrays_and_metadata(tmp_path):
    path = save_npz(tmp_path / "a.npz", {"x": np.arange(6).reshape(2, 3)}, {"kind": "thing", "n": 3})
    arrays, meta = load_npz(path, expected_kind="thing")
    assert arrays["x"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert meta["n"] == 3 and meta["format"] == "recsys-studio/1"


def test_refuses_to_overwrite_when_asked(tmp_path):
    save_npz(tmp_path / "a.npz", {}, {"kind": "k"})
    with pytest.raises(PersistenceError, match="exists already"):
        save_npz(tmp_path / "a.npz", {}, {"kind": "k"}, overwrite=False)
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]  # no temp file left behind


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04truncated"])
def test_corrupted_files_raise_persistence_error(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(PersistenceError):
        load_npz(path)


def test_foreign_npz_and_object_arrays_are_rejected(tmp_path):
    np.savez(tmp_path / "foreign.npz", a=np.zeros(2))
    with pytest.raises(PersistenceError, match="no metadata"):
        load_npz(tmp_path / "foreign.npz")
    with pytest.raises(PersistenceError, match="pickle"):
        save_npz(tmp_path / "obj.npz", {"o": np.array([{"a": 1}], dtype=object)}, {})
    with zipfile.ZipFile(tmp_path / "meta.npz", "w") as zf:
        with zf.open("__metadata__.npy", "w") as fh:
            np.save(fh, np.frombuffer(json.dumps({"format": "other"}).encode(), np.uint8))
    with pytest.raises(PersistenceError, match="unsupported format"):
        load_npz(tmp_path / "meta.npz")
    save_npz(tmp_path / "kind.npz", {}, {"kind": "run"})
    with pytest.raises(PersistenceError, match="expected 'model'"):
        load_npz(tmp_path / "kind.npz", expected_kind="model")


def test_model_save_load_round_trip_restores_scores(tmp_path):
    seen = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float32))
    model = FixedEmbeddings([[1, 0], [0, 1]], [[3, 0], [1, 1], [0, 2]], note="hello").fit(seen)
    path = model.save(tmp_path / "m.npz")
    loaded = Recommender.load(path)
    assert isinstance(loaded, FixedEmbeddings) and loaded.note == "hello"
    np.testing.assert_array_equal(loaded.score([0, 1]), model.score([0, 1]))
    assert (loaded.seen_ != model.seen_).nnz == 0
    assert loaded.history_ == model.history_


def test_recommend_excludes_seen_and_similar_items_excludes_the_query():
    seen = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float32))
    model = FixedEmbeddings([[1, 0], [0, 1]], [[3, 0], [1, 1], [0, 2]]).fit(seen)
    items, scores = model.recommend([0, 1], k=2)
    # user 0 scores items [3, 1, 0] but has seen item 0; user 1 scores [0, 1, 2], has seen item 1
    assert items.tolist() == [[1, 2], [2, 0]]
    assert scores.tolist() == [[1, 0], [2, 0]]
    items, _ = model.recommend([0], k=3, exclude_seen=False, exclude_items=[1])
    assert items.tolist() == [[0, 2, -1]]
    neighbours, _ = model.similar_items([0], k=2, measure="cosine")
    assert neighbours.tolist() == [[1, 2]]


def test_callback_stop_request_is_reported():
    seen = sp.csr_matrix(np.eye(2, dtype=np.float32))
    calls = []
    model = FixedEmbeddings(np.eye(2), np.eye(2))
    model.fit(seen, callback=lambda p: calls.append((p.epoch, p.n_epochs, p.losses)))
    assert calls == [(1, 1, {"total": 0.0})]


def test_metadata_is_strict_json_with_nan_as_null(tmp_path):
    save_npz(tmp_path / "n.npz", {}, {"kind": "k", "metrics": {"a": float("nan"), "b": np.float32(2)}})
    _, meta = load_npz(tmp_path / "n.npz")
    assert meta["metrics"] == {"a": None, "b": 2.0}


def test_precomputed_embeddings_fold_in_is_the_ridge_solution_and_round_trips(tmp_path):
    from recsys_core.models import PrecomputedEmbeddings, trainable_models

    seen = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float32))
    model = PrecomputedEmbeddings([[1, 0], [0, 1]], [[3, 0], [1, 1], [0, 2]],
                                  regularization=0.0).fit(seen)
    # items 0 and 2 rated 3 and 4: u . (3, 0) = 3 and u . (0, 2) = 4 give u = (1, 2)
    np.testing.assert_allclose(model.fold_in([0, 2], [3, 4]), [1, 2], atol=1e-6)
    loaded = Recommender.load(model.save(tmp_path / "p.npz"))
    np.testing.assert_array_equal(loaded.score([0, 1]), model.score([0, 1]))
    assert "precomputed" not in trainable_models()
    with pytest.raises(HyperparameterError, match="do not fit"):
        PrecomputedEmbeddings(np.eye(2), np.eye(2)).fit(sp.csr_matrix(np.eye(3)))
