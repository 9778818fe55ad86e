"""The contract every registered model kind keeps, as a mixin of tests (in the manner of
implicit's ``RecommenderBaseTestMixin`` and LensKit's component tests).

A model's test class subclasses :class:`ModelContract` and says only what differs: its ``kind``,
hyperparameters that train in a blink (``fast_params``), which hyperparameter counts epochs, and
its quality floor. tests/models/test_contract.py holds one such class per registered kind, and
checks that no kind is missing. Every test name contains "contract", and pytest's node id adds the
kind (``TestWalsContract::test_contract_fit_returns_self``).

The known answer is a *checkerboard*: two blocks of users and items that never meet (block A: 12
users x 6 items, block B: 6 users x 6 items); every user has seen 4 of their block's 6 items. A
personalised model ranks one of the 2 unseen items of the user's own block first, although the
items of block A are twice as popular (so block B's users test personalisation against
popularity). A non-personalised model ranks the most popular unseen item first.
"""
from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys_core.data.dataset import Dataset
from recsys_core.data.demo import make_demo_dataset
from recsys_core.errors import DataError, HyperparameterError, NotFittedError
from recsys_core.evaluation.metrics import evaluate_model
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import MODEL_REGISTRY, Recommender

#: (users, items) of each checkerboard block, and how many of its block's items a user has seen.
BLOCKS = ((12, 6), (6, 6))
SEEN_PER_USER = 4


@lru_cache(maxsize=None)
def checkerboard() -> Dataset:
    """The checkerboard described in the module docstring, as an implicit Dataset whose items have
    a genre per block ("Alpha", "Beta") and one release year (so content and two-tower models have
    item features)."""
    users, items, genre = [], [], []
    user0 = item0 = 0
    for block, (n_users, n_items) in enumerate(BLOCKS):
        for u in range(n_users):
            # Each user misses 2 items of the block, a different pair for each user.
            missing = {u % n_items, (u + 1 + u // n_items) % n_items}
            for i in sorted(set(range(n_items)) - missing):
                users.append(user0 + u)
                items.append(item0 + i)
        genre += [block] * n_items
        user0 += n_users
        item0 += n_items
    n_items = item0
    item_genres = np.zeros((n_items, 2), dtype=bool)
    item_genres[np.arange(n_items), genre] = True
    table = pd.DataFrame({"title": [f"item {i}" for i in range(n_items)],
                          "year": np.full(n_items, 1995.0),
                          "genres": [("Alpha", "Beta")[g] for g in genre]})
    return Dataset.from_interactions(np.array(users), np.array(items), user_ids=np.arange(user0),
                                     item_ids=np.arange(n_items), item_table=table,
                                     genre_names=("Alpha", "Beta"), item_genres=item_genres,
                                     name="checkerboard")


def block_of(index: int, sizes) -> int:
    """Block number of a user (sizes = users per block) or item (sizes = items per block)."""
    return int(np.searchsorted(np.cumsum(sizes), index, side="right"))


@lru_cache(maxsize=None)
def demo_split():
    """The quality floors' data: the demo catalogue at 400 users x 300 items (seed 0), 20% of
    each user's entries held out (seed 0)."""
    return holdout_split(make_demo_dataset(seed=0, n_users=400, n_items=300), 0.2, seed=0)


def _plain(value):
    """A hyperparameter value as JSON keeps it (a tuple comes back from a saved model as a list)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def params_equal(a: dict, b: dict) -> bool:
    """Hyperparameter dicts equal: arrays by value, tuples and lists alike."""
    return a.keys() == b.keys() and all(_plain(a[k]) == _plain(b[k]) for k in a)


class ModelContract:
    """Tests every model kind must pass; a subclass sets the class attributes below."""

    #: The model's registered kind.
    kind: ClassVar[str] = ""
    #: Hyperparameters that train on the checkerboard and the small demo in well under a second.
    fast_params: ClassVar[dict] = {}
    #: The hyperparameter counting epochs (iterative models), else None (one-shot fits).
    epochs_param: ClassVar[str | None] = None
    #: Whether the model ranks per user (False: the same list for everyone).
    personalised: ClassVar[bool] = True
    #: Quality floor: NDCG@10 with ``fast_params`` on :func:`demo_split`, a bit below the value
    #: measured (``measured_ndcg``, for the record).
    ndcg_floor: ClassVar[float] = 0.0
    measured_ndcg: ClassVar[float] = 0.0

    # ------------------------------------------------------------------ hooks
    def make_model(self, data, **overrides) -> Recommender:
        """An unfitted model for ``data`` (models wrapping given embeddings need the data)."""
        return MODEL_REGISTRY[self.kind](**{**self.fast_params, **overrides})

    def fit_kwargs(self, data) -> dict:
        """Extra keyword arguments of ``fit`` (e.g. item features for a bare matrix)."""
        return {}

    def fit(self, data, **overrides) -> Recommender:
        return self.make_model(data, **overrides).fit(data, **self.fit_kwargs(data))

    @pytest.fixture(scope="class")
    def fitted(self) -> Recommender:
        """The model fitted on the checkerboard (shared by the tests of one class)."""
        return self.fit(checkerboard())

    # ------------------------------------------------------------------ fit and hyperparameters
    def test_contract_kind_is_registered(self):
        cls = MODEL_REGISTRY[self.kind]
        assert cls.kind == self.kind and issubclass(cls, Recommender)

    def test_contract_fit_returns_self(self):
        data = checkerboard()
        model = self.make_model(data)
        assert model.fit(data, **self.fit_kwargs(data)) is model

    def test_contract_fit_learns_state_of_the_data_shape(self, fitted):
        data = checkerboard()
        assert (fitted.n_users_, fitted.n_items_) == data.shape
        assert fitted.seen_.shape == data.shape and fitted.seen_.nnz == data.n_ratings
        embeddings = getattr(fitted, "item_embeddings_", None)
        assert embeddings is not None or not fitted.has_embeddings
        if embeddings is not None:
            assert embeddings.shape[0] == data.n_items and embeddings.dtype == np.float32
        assert len(fitted.history_) >= 1

    def test_contract_get_set_params_round_trip(self, fitted):
        params = fitted.get_params()
        assert params_equal(params, self.make_model(checkerboard()).get_params())  # fit left them
        other = MODEL_REGISTRY[self.kind]()
        assert other.set_params(**params) is other
        assert params_equal(other.get_params(), params)
        with pytest.raises(HyperparameterError, match="no hyperparameter"):
            other.set_params(no_such_parameter=1)

    def test_contract_clone_from_get_params_is_equal_and_unfitted(self, fitted):
        clone = type(fitted)(**fitted.get_params())
        assert params_equal(clone.get_params(), fitted.get_params())
        assert repr(clone) == repr(fitted)
        with pytest.raises(NotFittedError):
            clone.score([0])

    def test_contract_unfitted_model_raises_not_fitted(self, tmp_path):
        model = self.make_model(checkerboard())
        calls = {"score": lambda: model.score([0]),
                 "predict": lambda: model.predict([0], [0]),
                 "recommend": lambda: model.recommend([0], k=3),
                 "similar_items": lambda: model.similar_items([0], k=3),
                 "related_items": lambda: model.related_items([0], k=3),
                 "fold_in": lambda: model.fold_in([0, 1]),
                 "save": lambda: model.save(tmp_path / "model.npz")}
        for name, call in calls.items():
            with pytest.raises(NotFittedError):
                call()
        assert not (tmp_path / "model.npz").exists()

    def test_contract_empty_matrix_is_refused(self):
        for empty in (sp.csr_matrix((0, 0), dtype=np.float32),
                      sp.csr_matrix((4, 3), dtype=np.float32)):
            with pytest.raises(DataError, match="empty"):
                self.fit(empty)

    def test_contract_fit_is_deterministic(self, fitted):
        again = self.fit(checkerboard())
        np.testing.assert_array_equal(again.score(np.arange(fitted.n_users_)),
                                      fitted.score(np.arange(fitted.n_users_)))

    # ------------------------------------------------------------------ recommending
    def test_contract_recommend_excludes_seen_items(self, fitted):
        users = np.arange(fitted.n_users_)
        items, scores = fitted.recommend(users, k=2)
        assert items.shape == scores.shape == (len(users), 2)
        assert items.dtype == np.int64 and scores.dtype == np.float32
        seen = fitted.seen_.toarray().astype(bool)
        assert not seen[users[:, None], items].any()
        assert np.all(np.diff(scores, axis=1) <= 0)  # best first

    def test_contract_recommend_pads_when_too_few_items_remain(self, fitted):
        n_items = fitted.n_items_
        unseen = np.flatnonzero(fitted.seen_[0].toarray().ravel() == 0)
        allowed = unseen[:2]
        items, scores = fitted.recommend([0], k=4, exclude_items=np.setdiff1d(np.arange(n_items),
                                                                                allowed))
        assert set(items[0, :2]) == set(allowed)
        np.testing.assert_array_equal(items[0, 2:], [-1, -1])
        assert np.all(np.isneginf(scores[0, 2:])) and np.all(np.isfinite(scores[0, :2]))
        # More than the catalogue: k is clipped to n_items (retrieval.topk.top_k), seen items pad.
        items, _ = fitted.recommend([0], k=n_items + 3)
        assert items.shape == (1, n_items)
        assert set(items[0][items[0] >= 0]) == set(unseen)
        assert np.sum(items[0] == -1) == n_items - len(unseen)

    def test_contract_checkerboard_top_item(self, fitted):
        data = checkerboard()
        users = np.arange(data.n_users)
        top = fitted.recommend(users, k=1)[0][:, 0]
        seen = data.ratings.toarray() > 0
        if self.personalised:
            user_blocks = [b[0] for b in BLOCKS]
            item_blocks = [b[1] for b in BLOCKS]
            wrong = [(u, int(top[u])) for u in users
                     if block_of(u, user_blocks) != block_of(top[u], item_blocks)]
            assert not wrong, f"top item outside the user's block (user, item): {wrong}"
        else:
            counts = data.item_popularity
            for u in users:
                best = counts[~seen[u]].max()
                assert counts[top[u]] == best, (u, top[u])

    def test_contract_predict_agrees_with_score(self, fitted):
        users, items = np.array([0, 0, 5, 17]), np.array([1, 9, 3, 11])
        expected = fitted.score(np.arange(fitted.n_users_))[users, items]
        scale = getattr(fitted, "rating_scale_", None)
        if scale is not None:  # explicit models clip their predictions to the rating scale
            expected = np.clip(expected, *scale)
        predicted = fitted.predict(users, items)
        assert predicted.shape == (4,) and predicted.dtype == np.float32
        np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-6)

    def test_contract_similar_items_leave_the_item_out(self, fitted):
        items, scores = fitted.similar_items([0, 7], k=3)
        assert items.shape == scores.shape == (2, 3)
        assert 0 not in items[0] and 7 not in items[1]

    def test_contract_related_items_leave_the_item_out(self, fitted):
        if fitted.related_items_source is None:
            with pytest.raises(HyperparameterError, match="no related items"):
                fitted.related_items([0], k=3)
            return
        assert isinstance(fitted.related_items_source, str) and fitted.related_items_source
        items, scores = fitted.related_items([0, 7], k=3)
        assert items.shape == scores.shape == (2, 3)
        assert items.dtype == np.int64 and scores.dtype == np.float32
        assert 0 not in items[0] and 7 not in items[1]
        assert np.all(np.diff(scores, axis=1) <= 0)  # best first
        # Their scores are the model's related_item_scores of those items.
        listed = items[0][items[0] >= 0]
        np.testing.assert_allclose(scores[0][:len(listed)],
                                   fitted.related_item_scores([0], listed)[0], rtol=1e-6)
        # Related items come from the item's own block of the checkerboard.
        item_blocks = [b[1] for b in BLOCKS]
        assert all(block_of(i, item_blocks) == block_of(q, item_blocks)
                   for q, row in ((0, items[0][:1]), (7, items[1][:1])) for i in row if i >= 0)
        with pytest.raises(IndexError):
            fitted.related_items([fitted.n_items_], k=3)

    # ------------------------------------------------------------------ fold-in, persistence
    def test_contract_fold_in_shapes(self, fitted):
        data = checkerboard()
        vector = fitted.fold_in(data.user_items(0))
        # A model without embeddings folds a new user into their history vector (n_items,).
        d = fitted.item_embeddings_.shape[1] if hasattr(fitted, "item_embeddings_") \
            else data.n_items
        assert vector.shape == (d,) and vector.dtype == np.float32
        assert np.all(np.isfinite(vector))
        scores = fitted.score_embeddings(vector)
        assert scores.shape == (1, data.n_items) and scores.dtype == np.float32
        assert fitted.fold_in(data.user_items(0), np.ones(SEEN_PER_USER)).shape == (d,)
        with pytest.raises(IndexError):
            fitted.fold_in([data.n_items])

    def test_contract_fold_in_ranks_the_users_block_first(self, fitted):
        """A training user's history folded in as a new user: their top unseen item is in their
        own block (a non-personalised model gives the new user everyone's scores)."""
        data = checkerboard()
        for user in (0, 13):
            rated = data.user_items(user)
            scores = fitted.score_embeddings(fitted.fold_in(rated))[0]
            if not self.personalised:
                np.testing.assert_array_equal(scores, fitted.score([user])[0])
                continue
            scores[rated] = -np.inf
            top = int(np.argmax(scores))
            assert block_of(top, [b[1] for b in BLOCKS]) == block_of(user, [b[0] for b in BLOCKS])

    def test_contract_save_load_gives_identical_scores(self, fitted, tmp_path):
        path = fitted.save(tmp_path / "model.npz")
        loaded = Recommender.load(path)
        assert type(loaded) is type(fitted)
        assert params_equal(loaded.get_params(), fitted.get_params())
        users = np.arange(fitted.n_users_)
        np.testing.assert_array_equal(loaded.score(users), fitted.score(users))
        for a, b in zip(loaded.recommend(users, k=5), fitted.recommend(users, k=5)):
            np.testing.assert_array_equal(a, b)
        vector = fitted.fold_in([0, 1])
        np.testing.assert_array_equal(loaded.fold_in([0, 1]), vector)

    # ------------------------------------------------------------------ training progress
    def test_contract_progress_callback_can_stop(self):
        data = checkerboard()
        reports = []
        if self.epochs_param is None:  # one-shot fit: its stages as they start, then epoch 1/1
            model = self.make_model(data).fit(data, callback=lambda p: reports.append(p) or True,
                                              **self.fit_kwargs(data))
            assert [(p.epoch, p.n_epochs, p.stage) for p in reports] == \
                [(0, 1, stage) for stage in type(model).fit_stages] + [(1, 1, "")]
        else:
            model = self.make_model(data, **{self.epochs_param: 6}).fit(
                data, callback=lambda p: reports.append(p) or p.epoch == 2,
                **self.fit_kwargs(data))
            assert [(p.epoch, p.n_epochs) for p in reports] == [(1, 6), (2, 6)]
            assert len(model.history_) == 2
        assert model.recommend([0], k=2)[0].shape == (1, 2)  # stopped, still usable

    # ------------------------------------------------------------------ quality
    def test_contract_quality_floor(self):
        split = demo_split()
        model = self.fit(split.train)
        ndcg = evaluate_model(model, split.test, k=10, beyond_accuracy=False)["ndcg@10"]
        assert ndcg >= self.ndcg_floor, f"{self.kind}: NDCG@10 {ndcg:.4f} < {self.ndcg_floor}"
