"""Candidate generation: several generators each nominate items; the pool remembers who nominated
what, with which score and at which rank.

The course's first serving stage. A generator is anything with a ``name`` and two methods:
``nominate(user, n, exclude)`` -> its best ``n`` items and scores, and ``score(user, items)`` ->
its score for arbitrary items (so every pool item gets every generator's score as a feature for
the scoring model, not only the items that generator nominated).
"""
from __future__ import annotations

import dataclasses
import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..data.dataset import Dataset
from ..errors import HyperparameterError
from ..models.base import Recommender
from ..retrieval.similarity import check_measure, similarity_scores
from ..retrieval.topk import top_k
from ..validation import check_param


class CandidateGenerator(ABC):
    """Nominates items for a user (by index) and scores any items for that user."""

    name: str = "generator"

    @abstractmethod
    def score(self, user: int, items: np.ndarray | None = None) -> np.ndarray:
        """Scores (float32, larger = better) of ``items`` (all items by default) for ``user``."""

    def nominate(self, user: int, n: int, exclude: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """The generator's best ``n`` items for ``user`` outside ``exclude`` (item indices),
        best first: (items int64 (m,), scores float32 (m,)) with m <= n."""
        scores = self.score(user)
        mask = None
        if exclude is not None and len(exclude):
            mask = np.zeros(scores.shape[-1], dtype=bool)
            mask[np.asarray(exclude, dtype=np.int64)] = True
        idx, val = top_k(scores, n, mask)
        keep = idx[0] >= 0
        return idx[0][keep], val[0][keep]

    def nominate_within(self, user: int, n: int, members: np.ndarray,
                        exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The generator's best ``n`` items for ``user`` among ``members`` (sorted distinct item
        indices, e.g. a fairness group) outside ``exclude``, best first: a second top-k restricted
        to the group, (items int64 (m,), scores float32 (m,)) with m <= n. Only the members are
        scored."""
        members = np.asarray(members, dtype=np.int64)
        scores = np.asarray(self.score(user, members), dtype=np.float32)
        mask = _excluded_members(members, exclude)
        idx, val = top_k(scores, n, mask)
        keep = idx[0] >= 0
        return members[idx[0][keep]], val[0][keep]


def _excluded_members(members: np.ndarray, exclude) -> np.ndarray | None:
    """Bool (len(members),): which of the sorted ``members`` are in ``exclude``."""
    if exclude is None or not len(exclude):
        return None
    return np.isin(members, np.asarray(exclude, dtype=np.int64), assume_unique=False)


class ScoreVectorGenerator(CandidateGenerator):
    """Candidates from one score vector over the whole catalogue, for a user who is not a row of
    the model (a folded-in new user) or a score the caller computed (a similarity measure).

    Parameters
    ----------
    scores : array of float, shape (n_items,)
        Larger = better. ``user`` arguments are ignored.
    name : str
    """

    def __init__(self, scores, name: str = "model"):
        self.scores_ = np.asarray(scores, dtype=np.float32).ravel()
        self.name = name

    def score(self, user: int, items: np.ndarray | None = None) -> np.ndarray:
        return self.scores_ if items is None else self.scores_[np.asarray(items, dtype=np.int64)]


class ModelGenerator(CandidateGenerator):
    """Candidates of a fitted :class:`~recsys_core.models.base.Recommender`.

    Parameters
    ----------
    model : Recommender, fitted
    name : str, optional
        Defaults to the model's ``kind``.
    measure : {"dot", "cosine", "euclidean", "tempered"} or None
        None uses the model's own ``score`` (biases included); a measure compares the user's
        embedding with the item embeddings instead (the app's similarity knob).
    alpha : float
        Exponent of the tempered measure.
    ann : recsys_core.retrieval.ann.ANNIndex, optional
        A fitted approximate index over ``model.item_embeddings_`` with the same measure, used by
        ``nominate`` (``score`` stays exact).
    """

    def __init__(self, model: Recommender, name: str | None = None, measure: str | None = None,
                 alpha: float = 0.5, ann=None):
        model._check_fitted()
        if measure is not None:
            check_measure(measure, alpha)
            if getattr(model, "user_embeddings_", None) is None:
                raise HyperparameterError(f"{type(model).__name__} has no user embeddings to "
                                          f"compare with a {measure} measure")
        if ann is not None and measure is None:
            raise HyperparameterError("approximate search needs a similarity measure")
        self.model = model
        self.name = name or model.kind or type(model).__name__
        self.measure = measure
        self.alpha = alpha
        self.ann = ann

    def score(self, user: int, items: np.ndarray | None = None) -> np.ndarray:
        if self.measure is None:
            return self.model.score([user], items)[0]
        item_vectors = self.model.item_embeddings_ if items is None else \
            self.model.item_embeddings_[np.asarray(items, dtype=np.int64)]
        return similarity_scores(self.model.user_embeddings_[user], item_vectors, self.measure,
                                 self.alpha)[0]

    def nominate(self, user: int, n: int, exclude: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        if self.ann is None:
            return super().nominate(user, n, exclude)
        idx, val = self.ann.search(self.model.user_embeddings_[user], n, exclude=exclude)
        keep = idx[0] >= 0
        return idx[0][keep], val[0][keep]

    def nominate_within(self, user: int, n: int, members: np.ndarray,
                        exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`CandidateGenerator.nominate_within`; with an approximate index, searches a
        second index of the same kind built over the members' embeddings only (built once per
        member set), since excluding every non-member from the full index would make it fetch
        nearly the whole catalogue."""
        if self.ann is None:
            return super().nominate_within(user, n, members, exclude)
        members = np.asarray(members, dtype=np.int64)
        if not len(members):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        index = self._member_index(members)
        idx, val = index.search(self.model.user_embeddings_[user], n,
                                exclude=_excluded_members(members, exclude))
        keep = idx[0] >= 0
        return members[idx[0][keep]], val[0][keep]

    def _member_index(self, members: np.ndarray):
        cache = self.__dict__.setdefault("_member_indexes", {})
        key = (len(members), hash(members.tobytes()))
        if key not in cache or not np.array_equal(cache[key][0], members):
            params = {name: getattr(self.ann, name) for name in
                      inspect.signature(type(self.ann).__init__).parameters if name != "self"}
            cache[key] = (members.copy(), type(self.ann)(**params).fit(
                self.model.item_embeddings_[members]))
        return cache[key][1]


def query_generator(model: Recommender, *, user: int | None = None,
                    vector: np.ndarray | None = None, measure: str | None = None,
                    alpha: float = 0.5, name: str | None = None) -> CandidateGenerator:
    """The model's candidates for one query: a user of the data (``user``) or a folded-in user
    embedding (``vector``, shape (d,)), ranked by the model's score (``measure`` None) or by a
    similarity measure between the query and the item embeddings.

    Returns a :class:`ModelGenerator` for a user of the data, a :class:`ScoreVectorGenerator` of
    the vector's scores otherwise (give ``None`` as the pipeline's user then).
    """
    if (user is None) == (vector is None):
        raise HyperparameterError("give either a user of the data or a user embedding")
    if user is not None:
        return ModelGenerator(model, name=name, measure=measure, alpha=alpha)
    model._check_fitted()
    if measure is None:
        scores = model.score_embeddings(vector)[0]
    else:
        check_measure(measure, alpha)
        if getattr(model, "item_embeddings_", None) is None:
            raise HyperparameterError(f"{type(model).__name__} has no embeddings to compare "
                                      f"with a {measure} measure")
        scores = similarity_scores(vector, model.item_embeddings_, measure, alpha)[0]
    return ScoreVectorGenerator(scores, name=name or model.kind or type(model).__name__)


def _interactions(data) -> tuple[sp.csr_matrix, np.ndarray | None]:
    if isinstance(data, Dataset):
        return data.ratings, data.timestamps
    return sp.csr_matrix(data), None


class PopularityGenerator(CandidateGenerator):
    """The most interacted-with items: score = number of interactions in ``data``.

    Parameters
    ----------
    data : Dataset or sparse (n_users, n_items) matrix (the training interactions)
    """

    def __init__(self, data, name: str = "popularity"):
        matrix, _ = _interactions(data)
        self.name = name
        self.counts_ = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.float32)

    def score(self, user: int, items: np.ndarray | None = None) -> np.ndarray:
        return self.counts_ if items is None else self.counts_[np.asarray(items, dtype=np.int64)]


class TrendingGenerator(CandidateGenerator):
    """Recently popular items: interactions weighted by 0.5 ** (age / half_life_days).

    Parameters
    ----------
    data : Dataset with timestamps
    half_life_days : float
        An interaction this many days before ``now`` counts half as much as one at ``now``.
    now : int, optional
        Reference time in seconds since the epoch; defaults to the latest timestamp in ``data``.
        Interactions after it are ignored.
    """

    def __init__(self, data: Dataset, half_life_days: float = 30.0, now: int | None = None,
                 name: str = "trending"):
        check_param("half_life_days", half_life_days, low=0, low_open=True)
        if not isinstance(data, Dataset) or data.timestamps is None:
            raise HyperparameterError("trending candidates need a Dataset with timestamps")
        self.name = name
        self.half_life_days = half_life_days
        ts = data.timestamps
        self.now_ = int(ts.max()) if now is None else int(now)
        age_days = (self.now_ - ts) / 86400.0
        weight = np.where(age_days >= 0, 0.5 ** (np.maximum(age_days, 0) / half_life_days), 0.0)
        self.counts_ = np.bincount(data.ratings.indices, weights=weight,
                                   minlength=data.n_items).astype(np.float32)

    def score(self, user: int, items: np.ndarray | None = None) -> np.ndarray:
        return self.counts_ if items is None else self.counts_[np.asarray(items, dtype=np.int64)]


@dataclass(frozen=True)
class CandidatePool:
    """The union of every generator's nominations for one user.

    Attributes
    ----------
    user : int
    items : ndarray of int64, shape (n,)
        Pool items in order of their best nomination rank (then generator order).
    generators : tuple of str
        Generator names, the columns of ``scores`` and ``ranks``.
    scores : ndarray of float32, shape (n, n_generators)
        Every generator's score for every pool item (nominated by it or not).
    ranks : ndarray of int32, shape (n, n_generators)
        1-based rank of the item in that generator's nomination list, 0 when it did not
        nominate the item.
    group : str or None
        The fairness group whose own retrieval added items (see :meth:`with_group_items`).
    from_group : ndarray of bool, shape (n,), or None
        True for the items that group retrieval added (no generator nominated them among its
        best ``n_per_generator``).
    """

    user: int
    items: np.ndarray
    generators: tuple[str, ...]
    scores: np.ndarray
    ranks: np.ndarray
    group: str | None = None
    from_group: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.items)

    @property
    def group_label(self) -> str | None:
        """How :meth:`nominated_by` names the group retrieval, e.g. "long-tail retrieval"."""
        return None if self.group is None else f"{self.group} retrieval"

    def nominated_by(self, items=None) -> list[str]:
        """For each pool item (or each of ``items``, which must be in the pool), the generators
        that nominated it, joined by "+"; items added by a group's own retrieval say so
        (:attr:`group_label`)."""
        names = self.generators
        rows = np.arange(len(self.items)) if items is None else self.rows_of(items)
        out = ["+".join(n for n, r in zip(names, row) if r > 0)
               for row in self.ranks[rows].tolist()]
        if self.from_group is not None:
            for i in np.flatnonzero(self.from_group[rows]):
                out[i] = "+".join(filter(None, (out[i], self.group_label)))
        return out

    def take(self, rows) -> "CandidatePool":
        """The pool restricted to / reordered by the given row positions."""
        rows = np.asarray(rows, dtype=np.int64)
        return dataclasses.replace(
            self, items=self.items[rows], scores=self.scores[rows], ranks=self.ranks[rows],
            from_group=None if self.from_group is None else self.from_group[rows])

    def with_group_items(self, items, scores, group: str) -> "CandidatePool":
        """The pool plus items found by a group's own retrieval (marked in :attr:`from_group`).

        Parameters
        ----------
        items : array of int, shape (m,)
            New items (not in the pool).
        scores : ndarray of float32, shape (m, n_generators)
            Every generator's score for them (they keep rank 0: no generator nominated them).
        group : str
        """
        items = np.asarray(items, dtype=np.int64)
        if self.group is not None and self.group != group:
            raise ValueError(f"the pool already holds items of group {self.group!r}")
        if np.isin(items, self.items).any():
            raise ValueError("group items to add must not be in the pool already")
        flags = np.zeros(len(self.items), bool) if self.from_group is None else self.from_group
        return dataclasses.replace(
            self, items=np.concatenate([self.items, items]),
            scores=np.vstack([self.scores, np.asarray(scores, np.float32).reshape(
                len(items), len(self.generators))]),
            ranks=np.vstack([self.ranks, np.zeros((len(items), len(self.generators)), np.int32)]),
            group=group, from_group=np.concatenate([flags, np.ones(len(items), bool)]))

    def rows_of(self, items) -> np.ndarray:
        """Positions in the pool of the given items (int64)."""
        items = np.asarray(items, dtype=np.int64)
        order = np.argsort(self.items, kind="stable")
        pos = order[np.searchsorted(self.items[order], items)]
        if not np.array_equal(self.items[pos], items):
            raise ValueError("some items are not in the pool")
        return pos

    def provenance(self) -> pd.DataFrame:
        """Long table of the nominations: item, generator, score, rank (one row per nomination;
        group retrieval's items with the first generator's score and their rank among them)."""
        rows, cols = np.nonzero(self.ranks)
        frame = pd.DataFrame({"item": self.items[rows],
                              "generator": np.asarray(self.generators, dtype=object)[cols],
                              "score": self.scores[rows, cols], "rank": self.ranks[rows, cols]})
        if self.from_group is not None and self.from_group.any():
            added = np.flatnonzero(self.from_group)
            frame = pd.concat([frame, pd.DataFrame({
                "item": self.items[added], "generator": self.group_label,
                "score": self.scores[added, 0], "rank": np.arange(1, len(added) + 1)})],
                ignore_index=True)
        return frame


def generate_candidates(user: int, generators, n_per_generator: int = 100,
                        exclude: np.ndarray | None = None) -> CandidatePool:
    """Ask every generator for ``n_per_generator`` items and merge them into a pool.

    Parameters
    ----------
    user : int (index)
    generators : sequence of CandidateGenerator (distinct names)
    n_per_generator : int
    exclude : array of item indices, optional
        Never nominated (e.g. the user's seen items).

    Returns
    -------
    CandidatePool
    """
    generators = list(generators)
    if not generators:
        raise HyperparameterError("candidate generation needs at least one generator")
    names = tuple(g.name for g in generators)
    if len(set(names)) != len(names):
        raise HyperparameterError(f"generator names must be distinct, got {names}")
    check_param("n_per_generator", n_per_generator, low=1, integer=True)
    nominations = [g.nominate(user, n_per_generator, exclude) for g in generators]
    all_items = np.concatenate([items for items, _ in nominations])
    all_ranks = np.concatenate([np.arange(1, len(items) + 1) for items, _ in nominations])
    all_gens = np.concatenate([np.full(len(items), j) for j, (items, _) in
                               enumerate(nominations)])
    order = np.lexsort((all_gens, all_ranks))
    items, first = np.unique(all_items[order], return_index=True)
    pool_items = items[np.argsort(first, kind="stable")].astype(np.int64)
    position = {int(it): i for i, it in enumerate(pool_items)}
    ranks = np.zeros((len(pool_items), len(generators)), np.int32)
    rows = np.fromiter((position[int(it)] for it in all_items), np.int64, len(all_items))
    ranks[rows, all_gens] = all_ranks
    scores = np.column_stack([np.asarray(g.score(user, pool_items), np.float32)
                              for g in generators]) if len(pool_items) else \
        np.zeros((0, len(generators)), np.float32)
    return CandidatePool(user=int(user), items=pool_items, generators=names, scores=scores,
                         ranks=ranks)
