"""The interface every recommender shares, in the scikit-learn style.

Hyperparameters are the keyword arguments of ``__init__`` and are stored unchanged; ``fit`` learns
the state in attributes ending in ``_`` and returns ``self``. Users and items are addressed by
*index* (0..n-1) in the training matrix; :class:`~recsys_core.data.dataset.Dataset` maps raw ids.
"""
from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar

import numpy as np
import scipy.sparse as sp

from ..data.dataset import Dataset, as_interaction_matrix
from ..errors import DataError, HyperparameterError, NotFittedError, PersistenceError
from ..memory import check_memory
from ..persistence import load_npz, save_npz
from ..retrieval.similarity import similarity_scores
from ..retrieval.topk import top_k
from ..validation import Param
from .params import render_parameters_doc, validate_params

#: Bytes per element, for the memory estimates of ``estimate_fit_bytes`` (which compute with
#: Python ints, converting hyperparameters with ``int()``, so absurd sizes cannot overflow).
FLOAT32, FLOAT64, INT32, INT64 = 4, 8, 4, 8

#: Model classes by their ``kind``, filled in by :meth:`Recommender.__init_subclass__`.
MODEL_REGISTRY: dict[str, type["Recommender"]] = {}


def trainable_models() -> dict[str, type["Recommender"]]:
    """The registered model classes that learn from data alone, by kind (for training menus)."""
    return {kind: cls for kind, cls in MODEL_REGISTRY.items() if cls.trains_from_data}


@dataclass
class TrainingProgress:
    """What a ``fit`` reports after each epoch (or iteration) to its progress callback; a model
    without epochs (one with :attr:`Recommender.fit_stages`, e.g. EASE's closed form) also
    reports each stage of its one solve as it starts.

    Attributes
    ----------
    epoch : int
        1-based number of the epoch just finished (0 in a stage report: nothing finished yet).
    n_epochs : int
        Epochs planned (1 for a model without epochs).
    losses : dict of str -> float
        Loss components of this epoch (e.g. ``observed``, ``unobserved``, ``regularization``,
        ``total``), averaged the way the model's docstring says; empty in a stage report.
    metrics : dict of str -> float
        Validation metrics when a validation set was given, else empty.
    elapsed : float
        Seconds since ``fit`` started.
    stage : str
        In a stage report, the stage starting now (one of the model's ``fit_stages``); "" after
        an epoch. What the callback returns to a stage report is ignored: a one-shot solve
        cannot stop part-way.
    """

    epoch: int
    n_epochs: int
    losses: dict[str, float]
    metrics: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0
    stage: str = ""


#: A progress callback; returning True asks ``fit`` to stop after the current epoch.
ProgressCallback = Callable[[TrainingProgress], "bool | None"]


def validation_data(validation):
    """The held-out interactions of a ``fit(validation=...)`` argument: its ``.data`` when it is a
    validation callable, else the argument itself (a Dataset, a matrix or None)."""
    return getattr(validation, "data", validation) if callable(validation) else validation


def _with_parameters_section(doc: str, spec: dict[str, Param]) -> str:
    """The class docstring with its "Parameters" section rendered from the spec, placed before
    "Attributes" (or at the end), indented like a class docstring."""
    section = "\n".join(("    " + line) if line else "" for line in
                        render_parameters_doc(spec).splitlines())
    marker = "\n    Attributes\n"
    if marker in doc:
        head, tail = doc.split(marker, 1)
        return f"{head.rstrip()}\n\n{section}\n{marker}{tail}"
    return f"{doc.rstrip()}\n\n{section}\n    "


class Recommender(ABC):
    """Base class: embeddings in, scores, recommendations, neighbours and persistence out.

    Subclasses implement ``fit`` (setting ``user_embeddings_`` and ``item_embeddings_``, float32
    arrays of shape (n_users, d) and (n_items, d), and calling :meth:`_start_fit`) and
    ``fold_in``. Models with biases also set ``user_bias_`` (n_users,), ``item_bias_`` (n_items,)
    and ``global_mean_`` (float); the default :meth:`score` adds them when present. A model
    without embeddings (``has_embeddings`` False: item-kNN) keeps its own learned state instead
    and overrides ``_check_fitted`` and the scoring, fold-in and item-item methods.

    Attributes common to fitted models
    ----------------------------------
    n_users_, n_items_ : int
    seen_ : csr_matrix of float32, shape (n_users, n_items)
        Binary matrix of the training interactions, used to exclude seen items.
    history_ : list of dict
        One entry per epoch: ``epoch``, ``elapsed`` (s), the loss components and validation metrics.
    dataset_fingerprint_ : str or None
        Fingerprint of the training Dataset when ``fit`` got one.
    """

    #: Short name used by the command line, the app and persistence ("wals", "mf", ...).
    kind: ClassVar[str] = ""
    #: Whether ``score`` predicts ratings on the data's scale (explicit models) or only ranks.
    #: Read it from the fitted instance: a model whose answer depends on its hyperparameters or
    #: data overrides it with a property (matrix factorization, popularity).
    predicts_ratings: bool = False
    #: Whether ``fit`` learns from interactions alone, so the CLI and the app can offer it for
    #: training (False for wrappers of embeddings learned elsewhere).
    trains_from_data: ClassVar[bool] = True
    #: The typed specification of every ``__init__`` argument (:mod:`recsys_core.models.params`):
    #: it validates them, parses the command line's ``--set``, builds the Train page's widgets,
    #: renders the docstring's "Parameters" section and gives tuners their ranges.
    param_spec: ClassVar[dict[str, Param]] = {}
    #: Hyperparameters that set the memory of a fit, named when the memory budget refuses one
    #: (the spec's entries flagged ``size``).
    size_parameters: ClassVar[tuple[str, ...]] = ()
    #: Whether ``fit`` itself learns from plain held-out data passed as ``validation`` (early
    #: stopping); other models need a validation callable there.
    learns_from_validation: ClassVar[bool] = False
    #: Whether ``user_embeddings_`` and ``item_embeddings_`` are vectors that represent users and
    #: items, so the app can map them and compare them under dot, cosine and Euclidean measures.
    #: False for a model without embeddings (item-kNN), for EASE (its rows are item-item weights
    #: as wide as the catalogue) and for the popularity baseline, whose one column is its score.
    has_embeddings: ClassVar[bool] = True
    #: What :meth:`related_items` ranks by, in words for the app ("... come from <source>");
    #: None when the model offers no related items.
    related_items_source: ClassVar[str | None] = "the cosine of the item embeddings"
    #: The stages of a fit that has no epochs (a closed-form solve), in the order ``fit``
    #: reports them to its callback as they start (:meth:`_start_stage`), in words ("inverting
    #: it (Cholesky)"). The app then shows the stage instead of an epoch counter, and the
    #: objective of the one solution instead of a loss curve. Empty for models that iterate
    #: (their epochs are their progress) and for the quick counting models.
    fit_stages: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("kind"):  # its own kind: a variant inheriting one replaces nothing
            MODEL_REGISTRY[cls.kind] = cls
        if "param_spec" in cls.__dict__:
            cls.size_parameters = tuple(name for name, p in cls.param_spec.items() if p.size)
        doc = cls.__dict__.get("__doc__")
        if doc and cls.param_spec and "\n    Parameters\n" not in doc:
            cls.__doc__ = _with_parameters_section(doc, cls.param_spec)

    # ------------------------------------------------------------------ hyperparameters
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def validate_params(self) -> "Recommender":
        """Check every hyperparameter against :attr:`param_spec`; raise
        :class:`~recsys_core.errors.HyperparameterError` naming the first bad one and its allowed
        values. ``fit`` calls it before anything else; returns ``self``."""
        validate_params(self.param_spec, self.get_params())
        return self

    def get_params(self) -> dict:
        """Hyperparameters as passed to ``__init__``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> "Recommender":
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise HyperparameterError(f"{type(self).__name__} has no hyperparameter {name!r}; "
                                          f"it has {', '.join(sorted(valid))}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ fitting helpers
    @abstractmethod
    def fit(self, data, *, validation=None, callback: ProgressCallback | None = None) -> "Recommender":
        """Learn from a Dataset or a sparse (n_users, n_items) matrix; returns ``self``.

        ``validation`` scores the model after every epoch: a callable ``model -> dict of metrics``
        holding its held-out interactions in ``.data``, such as
        :class:`recsys_core.evaluation.metrics.Validation` (the metrics go to ``history_`` with a
        ``val_`` prefix). Models that learn from held-out data themselves (the softmax model's
        early stopping) also accept a plain Dataset or matrix there. ``callback`` receives a
        :class:`TrainingProgress` after every epoch and stops training by returning True.
        """

    def estimate_fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """Estimated peak memory, in bytes, that ``fit`` allocates on top of its input data.

        Every model overrides this with its own count (factor matrices and their temporaries,
        Gram matrices, optimizer state, per-batch logits, ...) from its hyperparameters, which
        must be valid, and the data's shape: ``n_users`` x ``n_items`` with ``nnz`` stored
        interactions. It errs on the high side and runs in microseconds (nothing is allocated),
        so :meth:`check_fit_memory` can refuse a fit before it starts. Per-epoch validation
        (``fit(validation=...)``) costs what :func:`~recsys_core.evaluation.metrics.evaluate_model`
        costs and is not counted. This base count is the part every fit shares: the binary ``seen_``
        matrix built by :meth:`_start_fit` and one int64 temporary per entry (``np.bincount``
        of the int32 indices makes one).
        """
        return int(nnz) * (FLOAT32 + INT64)

    def check_fit_memory(self, n_users: int, n_items: int, nnz: int) -> int:
        """Raise :class:`~recsys_core.errors.MemoryBudgetError` when the estimated memory of
        fitting data of this shape exceeds the budget (:mod:`recsys_core.memory`); return the
        estimate in bytes. ``fit`` calls it before allocating anything large."""
        estimate = int(self.estimate_fit_bytes(int(n_users), int(n_items), int(nnz)))
        # Name the size parameters changed from their defaults, when some are: they are the
        # likely cause (factors=1000000000); otherwise every one of them.
        defaults = {name: p.default for name, p in inspect.signature(type(self)).parameters.items()}
        changed = [name for name in self.size_parameters
                   if getattr(self, name) != defaults.get(name, inspect.Parameter.empty)]
        lower = [f"{name} (now {getattr(self, name)!r})"
                 for name in (changed or self.size_parameters)]
        advice = (f"lower {' or '.join(lower)}, or train on a smaller dataset" if lower
                  else "train on a smaller dataset (fewer items or users)")
        check_memory(estimate, f"training {type(self).__name__} on {n_users:,} users x "
                               f"{n_items:,} items ({nnz:,} interactions)", advice)
        return estimate

    def _start_fit(self, data) -> sp.csr_matrix:
        """Check the memory budget, record the training matrix shape, seen items and
        fingerprint; return the matrix."""
        matrix, dataset = as_interaction_matrix(data)
        if matrix.shape[0] == 0 or matrix.shape[1] == 0 or matrix.nnz == 0:
            raise DataError("cannot fit on an empty interaction matrix")
        self.check_fit_memory(matrix.shape[0], matrix.shape[1], matrix.nnz)
        self.n_users_, self.n_items_ = matrix.shape
        # Shares the training matrix's index arrays: only the unit values are new memory.
        self.seen_ = sp.csr_matrix((np.ones_like(matrix.data), matrix.indices, matrix.indptr),
                                   shape=matrix.shape)
        self.dataset_fingerprint_ = dataset.fingerprint if dataset is not None else None
        self.history_ = []
        self._fit_started = time.perf_counter()
        return matrix

    def _end_epoch(self, epoch: int, n_epochs: int, losses: dict, validation=None,
                   callback: ProgressCallback | None = None) -> bool:
        """Record an epoch in ``history_``, report it; True when the callback asked to stop.

        The validation metrics come from ``validation`` when it is callable (the evaluation layer
        builds it, so that models never import metrics).
        """
        if validation is not None and not callable(validation) and not self.learns_from_validation:
            raise HyperparameterError(
                f"{type(self).__name__} uses validation only to report metrics: pass "
                "validation=Validation(held_out) (recsys_core.evaluation.metrics)")
        metrics = dict(validation(self)) if callable(validation) else {}
        elapsed = time.perf_counter() - self._fit_started
        losses = {k: float(v) for k, v in losses.items()}
        self.history_.append({"epoch": epoch, "elapsed": elapsed, **losses,
                              **{f"val_{k}": float(v) for k, v in metrics.items()}})
        if callback is not None:
            return bool(callback(TrainingProgress(epoch, n_epochs, losses, metrics, elapsed)))
        return False

    def _start_stage(self, stage: str, callback: ProgressCallback | None = None) -> None:
        """Report that ``stage`` (one of :attr:`fit_stages`) of the fit starts now: a
        :class:`TrainingProgress` with ``stage`` set, epoch 0 of 1 (what the callback returns
        is ignored)."""
        if stage not in self.fit_stages:
            raise ValueError(f"{stage!r} is not one of {type(self).__name__}.fit_stages")
        if callback is not None:
            callback(TrainingProgress(0, 1, {}, {}, time.perf_counter() - self._fit_started,
                                      stage=stage))

    def _check_fitted(self):
        if not hasattr(self, "item_embeddings_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")

    # ------------------------------------------------------------------ scoring
    @property
    def n_factors_(self) -> int:
        self._check_fitted()
        return int(self.item_embeddings_.shape[1])

    def _user_index_array(self, users) -> np.ndarray:
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        if users.size and (users.min() < 0 or users.max() >= self.n_users_):
            bad = users[(users < 0) | (users >= self.n_users_)][0]
            raise IndexError(f"user index {bad} out of range for {self.n_users_} users")
        return users

    def _item_index_array(self, items) -> np.ndarray:
        items = np.atleast_1d(np.asarray(items, dtype=np.int64))
        if items.size and (items.min() < 0 or items.max() >= self.n_items_):
            bad = items[(items < 0) | (items >= self.n_items_)][0]
            raise IndexError(f"item index {bad} out of range for {self.n_items_} items")
        return items

    def score_embeddings(self, user_vectors: np.ndarray, items=None) -> np.ndarray:
        """Scores of query embeddings (e.g. folded-in users) against items.

        Parameters
        ----------
        user_vectors : ndarray, shape (n, d) or (d,)
        items : array of item indices, optional (all items by default)

        Returns
        -------
        ndarray of float32, shape (n, n_items or len(items))
        """
        self._check_fitted()
        item_idx = slice(None) if items is None else np.asarray(items, dtype=np.int64)
        q = np.atleast_2d(np.asarray(user_vectors, dtype=np.float32))
        out = q @ self.item_embeddings_[item_idx].T
        if getattr(self, "item_bias_", None) is not None:
            out = out + self.item_bias_[item_idx][None, :]
        if getattr(self, "global_mean_", None) is not None:
            out = out + np.float32(self.global_mean_)
        return out.astype(np.float32, copy=False)

    def score(self, users, items=None) -> np.ndarray:
        """Scores of users (by index) for items (all items by default).

        Returns
        -------
        ndarray of float32, shape (len(users), n_items or len(items)). For explicit models these
        are predicted ratings (not clipped; see :meth:`predict`).
        """
        self._check_fitted()
        users = self._user_index_array(users)
        out = self.score_embeddings(self.user_embeddings_[users], items)
        if getattr(self, "user_bias_", None) is not None:
            out = out + self.user_bias_[users][:, None]
        return out

    def predict(self, users, items) -> np.ndarray:
        """Score of each (user, item) pair, float32 of shape (n_pairs,); clipped to the rating
        scale for explicit models."""
        self._check_fitted()
        users = self._user_index_array(users)
        items = np.asarray(items, dtype=np.int64)
        u = self.user_embeddings_[users]
        v = self.item_embeddings_[items]
        out = np.einsum("ij,ij->i", u, v)
        if getattr(self, "user_bias_", None) is not None:
            out = out + self.user_bias_[users]
        if getattr(self, "item_bias_", None) is not None:
            out = out + self.item_bias_[items]
        if getattr(self, "global_mean_", None) is not None:
            out = out + self.global_mean_
        scale = getattr(self, "rating_scale_", None)
        if scale is not None:
            out = np.clip(out, scale[0], scale[1])
        return out.astype(np.float32)

    def recommend(self, users, k: int = 10, exclude_seen: bool = True, exclude_items=None,
                  batch_size: int = 2048) -> tuple[np.ndarray, np.ndarray]:
        """Top-k items for each user (by index), best first.

        Parameters
        ----------
        users : int or array of int
        k : int
        exclude_seen : bool
            Leave out the user's training items.
        exclude_items : array of item indices, optional
            Left out for every user.

        Returns
        -------
        items : ndarray of int64, shape (len(users), k), padded with -1 when too few are allowed
        scores : ndarray of float32, shape (len(users), k)
        """
        self._check_fitted()
        users = self._user_index_array(users)
        global_mask = None
        if exclude_items is not None and len(exclude_items):
            global_mask = np.zeros(self.n_items_, dtype=bool)
            global_mask[np.asarray(exclude_items, dtype=np.int64)] = True
        out_items, out_scores = [], []
        for start in range(0, len(users), batch_size):
            batch = users[start:start + batch_size]
            scores = self.score(batch)
            if global_mask is not None:
                scores[:, global_mask] = -np.inf
            idx, val = top_k(scores, k, self.seen_[batch] if exclude_seen else None)
            out_items.append(idx)
            out_scores.append(val)
        if not out_items:
            return np.zeros((0, k), np.int64), np.zeros((0, k), np.float32)
        return np.vstack(out_items), np.vstack(out_scores)

    def similar_items(self, items, k: int = 10, measure: str = "cosine", alpha: float = 0.5
                      ) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest items to each given item under a similarity measure, itself excluded.

        Returns
        -------
        items : ndarray of int64, shape (len(items), k)
        scores : ndarray of float32, shape (len(items), k)
        """
        self._check_fitted()
        items = np.atleast_1d(np.asarray(items, dtype=np.int64))
        scores = similarity_scores(self.item_embeddings_[items], self.item_embeddings_, measure, alpha)
        scores[np.arange(len(items)), items] = -np.inf
        return top_k(scores, k)

    def _check_related_items(self):
        self._check_fitted()
        if self.related_items_source is None:
            raise HyperparameterError(f"{type(self).__name__} offers no related items")

    def related_item_scores(self, items, candidates=None) -> np.ndarray:
        """How related each candidate item is to each query item, by
        :attr:`related_items_source` (here the cosine of the item embeddings); larger is more
        related. Row i, column j says how much having query item i argues for candidate j.

        Returns
        -------
        ndarray of float32, shape (len(items), n_items or len(candidates))
        """
        self._check_related_items()
        items = self._item_index_array(items)
        others = self.item_embeddings_ if candidates is None \
            else self.item_embeddings_[self._item_index_array(candidates)]
        return similarity_scores(self.item_embeddings_[items], others, "cosine")

    def related_items(self, items, k: int = 10, batch_size: int = 1024
                      ) -> tuple[np.ndarray, np.ndarray]:
        """The k items most related to each given item by the model's best item-item source
        (:attr:`related_items_source`), the item itself left out, best first.

        Returns
        -------
        items : ndarray of int64, shape (len(items), k), padded with -1 when too few are related
        scores : ndarray of float32, shape (len(items), k), padded with -inf
        """
        self._check_related_items()
        items = self._item_index_array(items)
        k = int(max(0, min(k, self.n_items_)))
        out_items = np.full((len(items), k), -1, dtype=np.int64)
        out_scores = np.full((len(items), k), -np.inf, dtype=np.float32)
        for start in range(0, len(items), batch_size):
            batch = items[start:start + batch_size]
            scores = self.related_item_scores(batch)
            scores[np.arange(len(batch)), batch] = -np.inf
            rows = slice(start, start + len(batch))
            out_items[rows], out_scores[rows] = top_k(scores, k)
        return out_items, out_scores

    @abstractmethod
    def fold_in(self, items, ratings=None) -> np.ndarray:
        """Embedding (float32, shape (d,)) of a user absent from training, from (item, rating) pairs.

        Parameters
        ----------
        items : array of item indices
        ratings : array of float, same length, optional (implicit 1.0 when omitted)
        """

    # ------------------------------------------------------------------ persistence
    def _state(self) -> tuple[dict[str, np.ndarray], dict]:
        """Learned state split into arrays (by attribute name) and JSON-able values."""
        arrays, values = {}, {}
        for name, value in vars(self).items():
            if not name.endswith("_") or name.startswith("_"):
                continue
            if sp.issparse(value):
                csr = sp.csr_matrix(value)
                arrays[f"{name}.data"] = csr.data
                arrays[f"{name}.indices"] = csr.indices
                arrays[f"{name}.indptr"] = csr.indptr
                values[f"{name}.shape"] = list(csr.shape)
            elif isinstance(value, np.ndarray):
                arrays[name] = value
            else:
                values[name] = value
        return arrays, values

    def save(self, path: str | Path, *, overwrite: bool = True, extra_metadata: dict | None = None
             ) -> Path:
        """Save hyperparameters and learned state to one ``.npz`` file (no pickle), atomically."""
        self._check_fitted()
        arrays, values = self._state()
        meta = {"kind": "model", "model": self.kind, "class": type(self).__name__,
                "params": self.get_params(), "state": values, **(extra_metadata or {})}
        return save_npz(path, arrays, meta, overwrite=overwrite)

    @staticmethod
    def load(path: str | Path) -> "Recommender":
        """Load any model saved by :meth:`save`; the class comes from the file's metadata."""
        from . import MODEL_REGISTRY as registry  # importing the package registers every model

        arrays, meta = load_npz(path, expected_kind="model")
        cls = registry.get(meta.get("model"))
        if cls is None:
            raise PersistenceError(f"{path}: unknown model type {meta.get('model')!r}")
        try:
            model = cls(**meta.get("params", {}))
        except TypeError as exc:
            raise PersistenceError(f"{path}: saved hyperparameters do not fit {cls.__name__} ({exc}); "
                                   "was it saved by another version?") from None
        state = dict(meta.get("state", {}))
        for key in [k for k in state if k.endswith(".shape")]:
            name = key[: -len(".shape")]
            shape = tuple(state.pop(key))
            setattr(model, name, sp.csr_matrix(
                (arrays.pop(f"{name}.data"), arrays.pop(f"{name}.indices"),
                 arrays.pop(f"{name}.indptr")), shape=shape))
        for name, value in {**state, **arrays}.items():
            setattr(model, name, value)
        model._after_load()
        return model

    def _after_load(self):
        """Hook for models that rebuild derived caches after :meth:`load`."""
