"""Train/test splits that share the dataset's index space and can be reproduced from their record.

Every function takes a :class:`~recsys_core.data.dataset.Dataset` and returns a :class:`Split` whose
``train`` and ``test`` are built with :meth:`Dataset.select_entries`, so user and item indices mean
the same thing on both sides and a model trained on ``train`` can be scored against ``test``.
A validation set is carved out of a training set with the same functions::

    outer = holdout_split(data, test_fraction=0.2, seed=0)
    inner = holdout_split(outer.train, test_fraction=0.1, seed=1)   # inner.test = validation

``Split.params`` records every argument (and the method) and ``Split.fingerprint`` hashes them
together with the dataset's fingerprint and the test mask, so two runs with equal fingerprints were
evaluated on exactly the same held-out entries.

The per-user splits hold out entries from every user's whole history, so training sees ratings
made after the test ones; :func:`temporal_split` cuts the whole dataset at one time instead, as a
deployed model meets the future (docs/splits.md says why this matters). :func:`describe_split`
puts any split's record into words for the app and the CLI.
"""
from __future__ import annotations

import hashlib
import json
import numbers
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import numpy as np

from ..data.dataset import Dataset
from ..errors import DataError, HyperparameterError, NoTimestampsError
from ..validation import check_param


@dataclass(frozen=True, eq=False)
class Split:
    """A dataset divided into training and test entries.

    Attributes
    ----------
    train, test : Dataset
        Same users, items and tables as the source; disjoint entries that together are all of
        the source's entries, except the test entries a split drops as unscorable (see
        ``dropped``).
    params : dict
        ``{"method": ..., <every argument>}``; JSON values only, so it can be stored with a run.
    fingerprint : str
        16 hex chars of SHA-256 over ``params``, the source dataset's fingerprint and the test mask.
    name : str
        Short human-readable description ("holdout 20% (seed 0)").
    test_mask : ndarray of bool, shape (n_ratings of the source,)
        Which of the source's entries (in ``ratings.data`` order) went to ``test``.
    dropped : dict
        Entries after a temporal cut-off that no collaborative model can score, left out of
        both sides: ``{"ratings": n, "users": n, "items": n}``, the held-out ratings whose user
        or item has no training rating, and how many such new users and new items there are.
        All zero for the per-user splits, which keep every user and item in train.
    """

    train: Dataset
    test: Dataset
    params: dict
    fingerprint: str
    name: str = ""
    test_mask: np.ndarray | None = None
    dropped: dict | None = None

    def counts(self) -> dict:
        """The sizes a description of the split needs, JSON values (stored with a run):
        ``train_ratings``, ``test_ratings``, ``test_users`` and ``dropped`` (see the class)."""
        return {"train_ratings": int(self.train.n_ratings),
                "test_ratings": int(self.test.n_ratings),
                "test_users": int(np.count_nonzero(self.test.user_activity)),
                "dropped": dict(self.dropped or NOTHING_DROPPED)}

    def describe(self) -> str:
        """The split in words (:func:`describe_split`)."""
        return describe_split(self.params, self.counts())

    def summary(self) -> dict:
        """Counts a person wants to see next to a split."""
        out = {
            "split": self.name,
            "train ratings": self.train.n_ratings,
            "test ratings": self.test.n_ratings,
            "test users": int(np.count_nonzero(self.test.user_activity)),
        }
        if self.dropped and self.dropped["ratings"]:
            out.update({"dropped new ratings": self.dropped["ratings"],
                        "new users": self.dropped["users"], "new items": self.dropped["items"]})
        out["fingerprint"] = self.fingerprint
        return out


#: ``Split.dropped`` of a split that keeps every held-out entry.
NOTHING_DROPPED = {"ratings": 0, "users": 0, "items": 0}


def _fingerprint(dataset: Dataset, params: dict, test_mask: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(params, sort_keys=True).encode())
    h.update(dataset.fingerprint.encode())
    h.update(np.packbits(test_mask).tobytes())
    return h.hexdigest()[:16]


def _make_split(dataset: Dataset, test_mask: np.ndarray, params: dict, name: str, *,
                train_mask: np.ndarray | None = None, dropped: dict | None = None) -> Split:
    """The Split of ``dataset``'s entries: ``test_mask`` to test, ``train_mask`` (default: every
    other entry) to train."""
    test_mask = np.asarray(test_mask, dtype=bool)
    test_mask.flags.writeable = False
    train_mask = ~test_mask if train_mask is None else np.asarray(train_mask, dtype=bool)
    train = dataset.select_entries(train_mask, name=f"{dataset.name} [train: {name}]")
    test = dataset.select_entries(test_mask, name=f"{dataset.name} [test: {name}]")
    return Split(train=train, test=test, params=params,
                 fingerprint=_fingerprint(dataset, params, test_mask), name=name,
                 test_mask=test_mask, dropped=dict(dropped or NOTHING_DROPPED))


def _check_not_empty(dataset: Dataset):
    if dataset.n_ratings == 0:
        raise DataError(f"{dataset.name!r} has no interactions to split")


def _mask_first_per_user(dataset: Dataset, order: np.ndarray, n_test: np.ndarray) -> np.ndarray:
    """Test mask taking, for each user, the first ``n_test[user]`` entries in ``order``.

    ``order`` is a permutation of the entries that groups them by user in ascending user order
    (as ``np.lexsort((..., entry_users))`` gives), so the rank of an entry inside its user's run
    is its position minus the user's CSR row start.
    """
    users_sorted = dataset.entry_users[order]
    rank = np.arange(dataset.n_ratings) - dataset.ratings.indptr[users_sorted]
    mask = np.zeros(dataset.n_ratings, dtype=bool)
    mask[order] = rank < n_test[users_sorted]
    return mask


def _order_within_users(keys: np.ndarray, entry_users: np.ndarray) -> np.ndarray:
    """``np.lexsort((keys, entry_users))`` for keys in [0, 1) and users in ascending order (as
    CSR entries come), 5-10x faster at 23M entries.

    One stable sort of ``user + key`` (nearly sorted already, which the sort exploits) gives the
    same order unless two keys of one user round to the same sum; that is checked (each user's
    keys must come out non-decreasing) and the exact lexsort runs then.
    """
    users = np.asarray(entry_users)
    if len(users) and not np.all(users[1:] >= users[:-1]):
        return np.lexsort((keys, users))
    order = np.argsort(users.astype(np.float64) + keys, kind="stable")
    sorted_keys, sorted_users = keys[order], users[order]
    same_user = sorted_users[1:] == sorted_users[:-1]
    if np.any(same_user & (sorted_keys[1:] < sorted_keys[:-1])):
        return np.lexsort((keys, users))
    return order


def holdout_split(dataset: Dataset, test_fraction: float = 0.2, seed: int = 0) -> Split:
    """Per-user random holdout: each user's test share is ``test_fraction`` of their entries.

    Each user with n interactions gets ``round(test_fraction * n)`` test entries, capped at
    ``n - 1`` so every user keeps at least one training item (users with a single interaction
    stay entirely in train). Which entries go to test is drawn uniformly from a NumPy generator
    seeded by ``seed``, so the split is deterministic.

    Parameters
    ----------
    dataset : Dataset
    test_fraction : float in (0, 1)
    seed : int

    Returns
    -------
    Split with params ``{"method": "holdout", "test_fraction": ..., "seed": ...}``
    """
    check_param("test_fraction", test_fraction, low=0.0, low_open=True, high=1.0)
    if test_fraction >= 1.0:
        raise HyperparameterError(f"test_fraction must be < 1, got {test_fraction!r}")
    check_param("seed", seed, low=0, integer=True)
    _check_not_empty(dataset)
    activity = dataset.user_activity
    n_test = np.minimum(np.rint(test_fraction * activity).astype(np.int64),
                        np.maximum(activity - 1, 0))
    # A random key per entry, sorted within each user, is a uniform random order per user.
    keys = np.random.default_rng(seed).random(dataset.n_ratings)
    order = _order_within_users(keys, dataset.entry_users)
    mask = _mask_first_per_user(dataset, order, n_test)
    params = {"method": "holdout", "test_fraction": float(test_fraction), "seed": int(seed)}
    return _make_split(dataset, mask, params, f"holdout {test_fraction:.0%} (seed {seed})")


def leave_last_k_out(dataset: Dataset, k: int = 1) -> Split:
    """Per-user temporal holdout: each user's ``k`` most recent interactions go to test.

    Users with ``k`` or fewer interactions keep their oldest one in train (at most ``n - 1`` go
    to test). Equal timestamps are ordered by item index (the larger counts as later), so the
    split is deterministic.

    Raises
    ------
    NoTimestampsError
        When the dataset has no timestamps.
    HyperparameterError
        When ``k`` is not a positive integer.
    """
    check_param("k", k, low=1, integer=True)
    if dataset.timestamps is None:
        raise NoTimestampsError(f"{dataset.name!r} has no timestamps, so there is no 'last' "
                                "interaction; use holdout_split instead")
    _check_not_empty(dataset)
    activity = dataset.user_activity
    n_test = np.minimum(int(k), np.maximum(activity - 1, 0))
    # Newest first within each user: sort by descending time, then descending item index.
    order = np.lexsort((-dataset.ratings.indices.astype(np.int64), -dataset.timestamps,
                        dataset.entry_users))
    mask = _mask_first_per_user(dataset, order, n_test)
    return _make_split(dataset, mask, {"method": "leave_last_k_out", "k": int(k)},
                       f"leave last {k} out")


def predefined_split(dataset: Dataset, fold: str = "u1") -> Split:
    """The test entries named by one of the dataset's predefined folds (MovieLens ``u1``..``u5``).

    Raises
    ------
    DataError
        When the dataset has no predefined folds.
    HyperparameterError
        When ``fold`` is not one of them (the message lists the available folds).
    """
    if not dataset.folds:
        raise DataError(f"{dataset.name!r} has no predefined folds; use holdout_split or "
                        "leave_last_k_out")
    if fold not in dataset.folds:
        raise HyperparameterError(f"unknown fold {fold!r}; {dataset.name!r} has folds "
                                  f"{', '.join(sorted(dataset.folds))}")
    return _make_split(dataset, dataset.folds[fold], {"method": "predefined", "fold": str(fold)},
                       f"predefined fold {fold}")


def parse_time(value) -> int:
    """A point in time as integer epoch seconds (UTC), the unit of ``Dataset.timestamps``.

    ``value`` is a number of epoch seconds (int, float or a string of digits) or an ISO 8601
    date or date-time ("1998-03-01", "1998-03-01T12:00", "1998-03-01 12:00+02:00"); a date or
    time without a zone is read as UTC. Fractions of a second are dropped.

    Raises
    ------
    HyperparameterError
        When ``value`` is neither.
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not np.isfinite(value):
            raise HyperparameterError(f"a cut-off time must be finite, got {value!r}")
        return int(np.floor(value))
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(np.floor(float(text)))
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise HyperparameterError(
                f"cannot read {value!r} as a time: give an ISO date such as 1998-03-01 (UTC), "
                "a date-time such as 1998-03-01T12:00, or epoch seconds") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return int(np.floor(moment.timestamp()))
    raise HyperparameterError(f"a cut-off time must be an ISO date or epoch seconds, "
                              f"got {value!r}")


def format_time(seconds: int) -> str:
    """Epoch seconds as a UTC date ("1998-03-08"), with the time of day when it is not midnight
    ("1998-03-08 14:05:09 UTC")."""
    moment = datetime.fromtimestamp(int(seconds), tz=timezone.utc)
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return f"{moment:%Y-%m-%d}"
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def quantile_cutoff(timestamps: np.ndarray, test_fraction: float) -> int:
    """The cut-off time that leaves ``test_fraction`` of the entries at or after it.

    It is the timestamp of the ``round(test_fraction * n)``-th latest entry (at least the
    latest one), so entries sharing that second all go to test and the test share can be a
    little larger than asked.
    """
    n = len(timestamps)
    n_test = min(n, max(1, int(round(test_fraction * n))))
    return int(np.partition(np.asarray(timestamps), n - n_test)[n - n_test])


def temporal_split(dataset: Dataset, test_fraction: float | None = None,
                   cutoff: str | int | float | None = None) -> Split:
    """Global temporal split: train on every rating before a cut-off time, test on the rest.

    Unlike the per-user splits, one cut-off holds for everyone, so training never sees a rating
    made after a test rating: the model is measured on what happened next, as when it is
    deployed (docs/splits.md explains what the per-user random holdout leaks).

    A user or item whose first rating comes at or after the cut-off has no training rating, and
    a collaborative model has nothing to score it by: the test entries of such new users and
    new items are dropped (in neither ``train`` nor ``test``) and counted in ``Split.dropped``,
    so a description of the split can say how much of the future the model could not see.

    Parameters
    ----------
    dataset : Dataset with timestamps (epoch seconds)
    test_fraction : float in (0, 1), optional
        Without ``cutoff``: put the cut-off at the timestamp that leaves this share of the
        ratings at or after it (:func:`quantile_cutoff`; default 0.2). With ``cutoff`` it must
        give that same cut-off (as the recorded params of a split do), else it is refused.
    cutoff : ISO date / date-time string or epoch seconds, optional
        The cut-off time (:func:`parse_time`); ratings at exactly this second go to test.

    Returns
    -------
    Split with params ``{"method": "temporal", "cutoff": <epoch seconds>, "test_fraction":
    <float, or None when the cut-off was given as a time>}``; every train timestamp is
    < cutoff <= every test timestamp.

    Raises
    ------
    NoTimestampsError
        When the dataset records no times.
    HyperparameterError
        When the cut-off cannot be read, or ``test_fraction`` is out of range or disagrees with
        a given cut-off.
    DataError
        When no rating comes before the cut-off, or none scorable at or after it.
    """
    if test_fraction is not None:
        check_param("test_fraction", test_fraction, low=0.0, low_open=True, high=1.0)
        if test_fraction >= 1.0:
            raise HyperparameterError(f"test_fraction must be < 1, got {test_fraction!r}")
    if dataset.timestamps is None:
        raise NoTimestampsError(
            f"{dataset.name!r} has no timestamps, so it cannot be split at a point in time; "
            "use the per-user random holdout (holdout_split) instead")
    _check_not_empty(dataset)
    times = dataset.timestamps
    if cutoff is None:
        resolved = quantile_cutoff(times, 0.2 if test_fraction is None else test_fraction)
        test_fraction = 0.2 if test_fraction is None else test_fraction
    else:
        resolved = parse_time(cutoff)
        if test_fraction is not None and quantile_cutoff(times, test_fraction) != resolved:
            raise HyperparameterError(
                f"give the temporal split a cut-off time or a test fraction, not both: "
                f"{test_fraction:.0%} of {dataset.name!r} is held out from "
                f"{format_time(quantile_cutoff(times, test_fraction))}, not {format_time(resolved)}")
    train_mask = times < resolved
    if not train_mask.any():
        raise DataError(f"no rating of {dataset.name!r} comes before the cut-off "
                        f"{format_time(resolved)} (the first is at {format_time(times.min())}); "
                        "choose a later cut-off")
    later = ~train_mask
    users, items = dataset.entry_users, dataset.ratings.indices
    known_users = np.bincount(users[train_mask], minlength=dataset.n_users) > 0
    known_items = np.bincount(items[train_mask], minlength=dataset.n_items) > 0
    scorable = known_users[users] & known_items[items]
    test_mask = later & scorable
    unscorable = later & ~scorable
    dropped = {"ratings": int(np.count_nonzero(unscorable)),
               "users": int(len(np.unique(users[later & ~known_users[users]]))),
               "items": int(len(np.unique(items[later & ~known_items[items]])))}
    if not test_mask.any():
        raise DataError(f"no rating of {dataset.name!r} at or after the cut-off "
                        f"{format_time(resolved)} has a user and an item seen before it, so "
                        "nothing could be evaluated; choose an earlier cut-off")
    params = {"method": "temporal", "cutoff": resolved,
              "test_fraction": None if test_fraction is None else float(test_fraction)}
    return _make_split(dataset, test_mask, params, f"temporal split at {format_time(resolved)}",
                       train_mask=train_mask, dropped=dropped)


#: Split functions by the ``method`` recorded in ``Split.params``.
SPLIT_METHODS: dict[str, Callable[..., Split]] = {
    "holdout": holdout_split,
    "leave_last_k_out": leave_last_k_out,
    "predefined": predefined_split,
    "temporal": temporal_split,
}


def make_split(dataset: Dataset, params: dict) -> Split:
    """Rebuild a split from its recorded ``params`` (as stored with a run).

    ``make_split(data, s.params).fingerprint == s.fingerprint`` for any split ``s`` of ``data``.
    """
    params = dict(params)
    method = params.pop("method", None)
    if method not in SPLIT_METHODS:
        raise HyperparameterError(f"unknown split method {method!r}; expected one of "
                                  f"{', '.join(SPLIT_METHODS)}")
    try:
        return SPLIT_METHODS[method](dataset, **params)
    except TypeError as exc:
        raise HyperparameterError(f"bad parameters for the {method} split: {exc}") from None


def require_test_ratings(split: Split) -> Split:
    """``split`` when it holds out at least one rating to evaluate on, else :class:`DataError`.

    Splits keep each user's only rating in train, so a dataset where no user has two ratings
    leaves the test set empty and every metric undefined: refuse before training.
    """
    if split.test.n_ratings == 0:
        raise DataError(f"too few ratings to hold out a test set: {split.name} keeps each user's only rating for training, and no user "
                        "has two or more ratings, so nothing could be evaluated")
    return split


def validation_split(train: Dataset, outer: dict | None, fraction: float, seed: int = 0,
                     fold: int = 0) -> Split:
    """A validation split carved from ``train`` (the training part of a split with params
    ``outer``) that keeps the outer split's notion of time.

    After a temporal split the validation entries are the last ``fraction`` of the training
    period (:func:`temporal_split` of ``train``), so choosing a setting never looks past the
    outer cut-off either; fold ``f`` > 0 moves that window back in time (rolling origin): it
    is the same split of the ratings before fold ``f - 1``'s validation window. Otherwise the
    validation entries are a per-user random holdout (:func:`holdout_split` with ``seed``;
    ``fold`` is then unused: folds differ by seed).
    """
    if outer is not None and outer.get("method") == "temporal":
        data = train
        for _ in range(int(fold)):
            earlier = temporal_split(data, test_fraction=fraction).params["cutoff"]
            data = data.select_entries(data.timestamps < earlier)
        return temporal_split(data, test_fraction=fraction)
    return holdout_split(train, test_fraction=fraction, seed=seed)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def describe_split(params: dict, counts: dict | None = None, *, short: bool = False) -> str:
    """A split's record in words, as every page and the CLI name a run's evaluation.

    ``params`` is ``Split.params`` (as stored with a run) and ``counts`` the optional
    ``Split.counts()``; e.g. "a random 20% of each user's ratings (seed 0)" or "a global
    temporal split at 1998-03-08: 20,000 test ratings after it; 312 ratings of 45 new users and
    60 new items not scorable". ``short`` gives a tag for lists ("temporal split at
    1998-03-08").
    """
    params = dict(params)
    method = params.pop("method", None)
    counts = counts or {}
    if method == "holdout":
        share = f"{params.get('test_fraction', 0.2):.0%}"
        return (f"random {share} per user" if short else
                f"a random {share} of each user's ratings (seed {params.get('seed', 0)})")
    if method == "leave_last_k_out":
        k = int(params.get("k", 1))
        if short:
            return f"last {k} per user"
        return "each user's most recent rating" if k == 1 else \
            f"each user's {k} most recent ratings"
    if method == "predefined":
        return f"{'fold' if short else 'MovieLens predefined fold'} {params.get('fold', '')}"
    if method == "temporal":
        when = format_time(params.get("cutoff", 0))
        if short:
            return f"temporal split at {when}"
        text = f"a global temporal split at {when}"
        if "test_ratings" in counts:
            text += f": {_count(counts['test_ratings'], 'test rating')} after it"
            dropped = counts.get("dropped") or NOTHING_DROPPED
            if dropped.get("ratings"):
                text += (f"; {_count(dropped['ratings'], 'rating')} of "
                         f"{_count(dropped['users'], 'new user')} and "
                         f"{_count(dropped['items'], 'new item')} not scorable")
            else:
                text += "; no new user or item"
        return text
    settings = ", ".join(f"{k} {v}" for k, v in params.items())
    return f"the {method} split" + (f" ({settings})" if settings else "")
