"""The immutable dataset object that every model, metric and page consumes.

A :class:`Dataset` holds the user x item interaction matrix (SciPy CSR, explicit ratings kept),
the timestamps aligned with its stored entries, raw-id <-> index maps in both directions, an item
table and, where the source has one, a user table. Loaders in :mod:`recsys_core.data` build it;
splits in :mod:`recsys_core.evaluation.split` derive train/test datasets that share its index space.
"""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import DataError, UnknownIdError


@dataclass(frozen=True)
class LoadReport:
    """What a loader did to the raw rows: nothing is dropped without a count here.

    Attributes
    ----------
    rows_read : int
        Interaction rows parsed from the source.
    duplicates_merged : int
        Repeated (user, item) rows collapsed into one (the latest by timestamp is kept).
    dropped : dict of str -> int
        Rows left out, by reason.
    notes : tuple of str
        Other remarks worth showing to a person (e.g. the encoding that was detected).
    cache : str
        What the binary cache (:mod:`recsys_core.data.cache`) did: "hit" (read from it),
        "written" (a first load, stored), "stale" (a source file changed: rebuilt), "rebuilt" (the
        entry was damaged and ignored) or "" (not cached).
    """

    rows_read: int = 0
    duplicates_merged: int = 0
    dropped: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    cache: str = ""

    def lines(self) -> list[str]:
        out = [f"{self.rows_read} interaction rows read"]
        if self.duplicates_merged:
            out.append(f"{self.duplicates_merged} duplicated (user, item) rows merged, latest kept")
        out += [f"{n} rows dropped: {why}" for why, n in self.dropped.items() if n]
        if self.cache == "hit":
            out.append("read from the dataset cache (source files unchanged)")
        return out + list(self.notes)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    a.flags.writeable = False
    return a


def _universe(ids) -> np.ndarray:
    """An id universe to keep (read-only): int64 or str objects, never the caller's array."""
    arr = _raw_id_array(ids)
    return arr.astype(np.int64) if arr.dtype.kind == "i" else arr.copy()


def _raw_id_array(ids) -> np.ndarray:
    """Raw ids as int64 (int32 kept) when they all are integers, else as Python strings."""
    arr = np.asarray(ids)
    if arr.dtype == np.int32:  # kept: the id tables read it as it is (95 MB saved at 23M rows)
        return arr
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)  # only read: 190 MB saved at 23M rows
    return np.asarray([str(x) for x in arr], dtype=object)


@dataclass(frozen=True, eq=False)
class Dataset:
    """User x item interactions with their side tables, in one index space.

    Build one with :meth:`from_interactions`; do not mutate it (its arrays are read-only).

    Attributes
    ----------
    ratings : scipy.sparse.csr_matrix, shape (n_users, n_items), float32
        Rating values for explicit data, 1.0 for implicit data. Canonical CSR: sorted indices, no
        duplicate entries, no explicit zeros.
    timestamps : ndarray of int64, shape (n_ratings,), or None
        Seconds since the epoch, aligned with ``ratings.data``.
    user_ids, item_ids : ndarray, shapes (n_users,), (n_items,)
        Raw ids by index (int64 when all integer, else str objects).
    items : pandas.DataFrame, n_items rows indexed 0..n_items-1
        Columns ``title`` (str), ``year`` (float, NaN when unknown), ``genres`` (str, labels joined
        by "|"), ``popularity`` (interactions in the loaded data; splits keep the loaded counts),
        plus whatever the source adds. Use :attr:`item_genres` for the multi-hot matrix.
    item_genres : ndarray of bool, shape (n_items, n_genres)
        Multi-hot genre matrix, columns in the order of :attr:`genre_names`.
    genre_names : tuple of str
    users : pandas.DataFrame or None
        n_users rows indexed 0..n_users-1 (``age``, ``gender``, ``occupation`` for MovieLens 100K).
    rating_scale : (float, float) or None
        Smallest and largest allowed rating for explicit data, None for implicit data.
    name : str
        Human-readable name ("MovieLens 100K", "demo catalogue", a file name).
    source : str
        Where it was loaded from (a path, or "generated:seed=...").
    report : LoadReport
    folds : mapping of str -> ndarray of bool, shape (n_ratings,)
        Predefined test masks over the stored entries (MovieLens folds ``u1``..``u5``).
    """

    ratings: sp.csr_matrix
    timestamps: np.ndarray | None
    user_ids: np.ndarray
    item_ids: np.ndarray
    items: pd.DataFrame
    item_genres: np.ndarray
    genre_names: tuple[str, ...]
    users: pd.DataFrame | None = None
    rating_scale: tuple[float, float] | None = None
    name: str = "dataset"
    source: str = ""
    report: LoadReport = field(default_factory=LoadReport)
    folds: Mapping[str, np.ndarray] = field(default_factory=dict)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_interactions(cls, users, items, values=None, timestamps=None, *, user_ids=None,
                          item_ids=None, item_table: pd.DataFrame | None = None,
                          genre_names: Sequence[str] = (), item_genres=None,
                          user_table: pd.DataFrame | None = None,
                          rating_scale: tuple[float, float] | None = None, name: str = "dataset",
                          source: str = "", report: LoadReport | None = None,
                          fold_of_row: Mapping[str, np.ndarray] | None = None,
                          copy: bool = True) -> "Dataset":
        """Build a dataset from parallel arrays of raw ids.

        Parameters
        ----------
        users, items : array-like, shape (n_rows,)
            Raw user and item ids of each interaction.
        values : array-like of float, shape (n_rows,), optional
            Ratings; omitted for implicit data (every entry becomes 1.0).
        timestamps : array-like of int, shape (n_rows,), optional
            Seconds since the epoch. Duplicated (user, item) rows keep the latest one.
        user_ids, item_ids : array-like, optional
            The full id universe in index order (e.g. every item of an items file, rated or not).
            Defaults to the sorted unique ids seen in the rows. Ids in the rows that are missing
            from these raise :class:`DataError`.
        item_table : DataFrame, optional
            One row per entry of ``item_ids`` in that order; ``title``, ``year``, ``genres``
            columns are filled in when missing.
        genre_names, item_genres : optional
            Genre labels and the (n_items, n_genres) multi-hot matrix aligned with ``item_ids``.
        user_table : DataFrame, optional
            One row per entry of ``user_ids`` in that order.
        fold_of_row : mapping of str -> bool array of shape (n_rows,), optional
            Predefined test membership of each input row, carried to the stored entries.
        copy : bool
            False lets the dataset keep (and make read-only) the ``values`` and ``timestamps``
            arrays passed instead of copying them: for loaders that built them (saves a copy of
            190 MB at 23M ratings). The caller's arrays are otherwise never shared.
        """
        users = _raw_id_array(users)
        items = _raw_id_array(items)
        n_rows = len(users)
        if len(items) != n_rows:
            raise DataError("users and items have different lengths")
        given_values, given_timestamps = values, timestamps
        values = (np.ones(n_rows, np.float32) if values is None
                  else np.asarray(values, dtype=np.float32))
        if timestamps is not None:
            timestamps = np.asarray(timestamps, dtype=np.int64)

        if user_ids is None:
            user_ids, rows = _unique_inverse(users)
        else:
            user_ids = _universe(user_ids)
            rows = _lookup(user_ids, users, "user")
        if item_ids is None:
            item_ids, cols = _unique_inverse(items)
        else:
            item_ids = _universe(item_ids)
            cols = _lookup(item_ids, items, "item")
        rows, cols = rows.ravel(), cols.ravel()  # int32 from the dense id tables, else int64

        # Canonical order: by user, then item, then time, so the last of a run is the latest.
        # Two stable argsorts on one int64 key are several times faster than a 3-key lexsort.
        # Files sorted by user then item (every MovieLens release) need no sort at all: checking
        # that the keys strictly increase is one pass, and then there is nothing to merge either.
        if n_rows > 1 and _pairs_strictly_increase(rows, cols, len(item_ids)):
            order = None
        else:
            pair_key = rows.astype(np.int64) * max(len(item_ids), 1) + cols
            if timestamps is None:
                order = np.argsort(pair_key, kind="stable")
            else:
                by_time = np.argsort(timestamps, kind="stable")
                order = by_time[np.argsort(pair_key[by_time], kind="stable")]
            del pair_key
        if order is not None:
            rows, cols, values = rows[order], cols[order], values[order]
            if timestamps is not None:
                timestamps = timestamps[order]
            last_of_run = np.ones(n_rows, dtype=bool)
            if n_rows:
                last_of_run[:-1] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
            keep = np.flatnonzero(last_of_run)
        else:  # the caller's arrays are never shared (they become read-only here): copy them
            keep = slice(None)
            if copy and not _made_here(values, given_values):
                values = values.copy()
            if copy and timestamps is not None and not _made_here(timestamps, given_timestamps):
                timestamps = timestamps.copy()
        merged = 0 if order is None else int(n_rows - len(keep))

        n_users, n_items = len(user_ids), len(item_ids)
        indptr = np.zeros(n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows[keep], minlength=n_users), out=indptr[1:])
        ratings = sp.csr_matrix((values[keep], cols[keep].astype(np.int32, copy=False), indptr),
                                shape=(n_users, n_items))
        ratings.has_sorted_indices = True

        base = report or LoadReport(rows_read=n_rows)
        report = dataclasses.replace(base, duplicates_merged=base.duplicates_merged + merged)
        folds = {}
        for fold, mask in (fold_of_row or {}).items():
            mask = np.asarray(mask, dtype=bool)
            folds[fold] = _readonly((mask if order is None else mask[order])[keep])
        return cls._assemble(
            ratings, None if timestamps is None else timestamps[keep], user_ids, item_ids,
            item_table=item_table, genre_names=genre_names, item_genres=item_genres,
            user_table=user_table, rating_scale=rating_scale, name=name, source=source,
            report=report, folds=folds)

    @classmethod
    def from_canonical_csr(cls, ratings: sp.csr_matrix, timestamps, user_ids, item_ids, *,
                           item_table: pd.DataFrame | None = None,
                           genre_names: Sequence[str] = (), item_genres=None,
                           rating_scale: tuple[float, float] | None = None, name: str = "dataset",
                           source: str = "", report: LoadReport | None = None,
                           item_counts: np.ndarray | None = None) -> "Dataset":
        """A dataset from a CSR matrix a loader built already in canonical form, with no copy.

        For loaders whose rows arrive sorted by user then item with no pair twice (every MovieLens
        release): what :meth:`from_interactions` would build from those rows, without its id
        tables and sort. ``ratings`` (float32 data, int32 indices, sorted, no duplicates, no
        zeros), ``timestamps`` (int64, aligned with ``ratings.data``), ``user_ids`` (n_users,)
        and ``item_ids`` (n_items,) become the dataset's, read-only. ``item_counts`` (n_items,)
        are the entries per item when the loader counted them (else counted here).
        """
        ratings.has_sorted_indices = True
        return cls._assemble(ratings, timestamps, _universe(user_ids), _universe(item_ids),
                             item_table=item_table, genre_names=genre_names,
                             item_genres=item_genres, user_table=None, rating_scale=rating_scale,
                             name=name, source=source,
                             report=report or LoadReport(rows_read=ratings.nnz), folds={},
                             item_counts=item_counts)

    @classmethod
    def _assemble(cls, ratings, timestamps, user_ids, item_ids, *, item_table, genre_names,
                  item_genres, user_table, rating_scale, name, source, report, folds,
                  item_counts=None) -> "Dataset":
        """The dataset around a canonical CSR matrix: side tables checked and completed."""
        n_users, n_items = len(user_ids), len(item_ids)
        genre_names = tuple(str(g) for g in genre_names)
        if item_genres is None:
            item_genres = np.zeros((n_items, len(genre_names)), dtype=bool)
        item_genres = np.asarray(item_genres, dtype=bool)
        if item_genres.shape != (n_items, len(genre_names)):
            raise DataError(f"item genre matrix has shape {item_genres.shape}, expected "
                            f"({n_items}, {len(genre_names)})")
        items_df = _complete_item_table(item_table, n_items, item_genres, genre_names)
        items_df["popularity"] = (np.bincount(ratings.indices, minlength=n_items)
                                  if item_counts is None else np.asarray(item_counts, np.int64))
        if user_table is not None:
            user_table = user_table.reset_index(drop=True)
            if len(user_table) != n_users:
                raise DataError(f"user table has {len(user_table)} rows for {n_users} users")
        return cls(ratings=ratings,
                   timestamps=None if timestamps is None else _readonly(timestamps),
                   user_ids=_readonly(user_ids), item_ids=_readonly(item_ids), items=items_df,
                   item_genres=_readonly(item_genres), genre_names=genre_names,
                   users=user_table, rating_scale=rating_scale, name=name, source=source,
                   report=report, folds=folds)

    def __post_init__(self):
        for a in (self.ratings.data, self.ratings.indices, self.ratings.indptr):
            a.flags.writeable = False

    # ------------------------------------------------------------------ sizes
    @property
    def n_users(self) -> int:
        return self.ratings.shape[0]

    @property
    def n_items(self) -> int:
        return self.ratings.shape[1]

    @property
    def n_ratings(self) -> int:
        return self.ratings.nnz

    @property
    def shape(self) -> tuple[int, int]:
        return self.ratings.shape

    @property
    def density(self) -> float:
        return self.n_ratings / max(1, self.n_users * self.n_items)

    @property
    def is_explicit(self) -> bool:
        return self.rating_scale is not None

    # ------------------------------------------------------------------ derived arrays
    @cached_property
    def item_popularity(self) -> np.ndarray:
        """Number of interactions per item, int64 of shape (n_items,)."""
        return _readonly(np.bincount(self.ratings.indices, minlength=self.n_items).astype(np.int64))

    @cached_property
    def user_activity(self) -> np.ndarray:
        """Number of interactions per user, int64 of shape (n_users,)."""
        return _readonly(np.diff(self.ratings.indptr).astype(np.int64))

    @cached_property
    def entry_users(self) -> np.ndarray:
        """User index of every stored entry, int32 of shape (n_ratings,), aligned with ratings.data."""
        return _readonly(np.repeat(np.arange(self.n_users, dtype=np.int32), self.user_activity))

    @cached_property
    def implicit(self) -> sp.csr_matrix:
        """Binary (n_users, n_items) float32 CSR with a 1 for every observed pair."""
        m = self.ratings.copy()
        m.data = np.ones_like(m.data)
        return m

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 (hex, 16 chars) of the interactions, timestamps and id maps."""
        h = hashlib.sha256()
        for a in (self.ratings.indptr, self.ratings.indices, self.ratings.data,
                  self.timestamps if self.timestamps is not None else np.zeros(0)):
            h.update(np.ascontiguousarray(a).tobytes())
        for ids in (self.user_ids, self.item_ids):
            h.update("\x1f".join(map(str, ids)).encode())
        return h.hexdigest()[:16]

    # ------------------------------------------------------------------ id maps
    @cached_property
    def user_index(self) -> dict:
        """Raw user id -> row index."""
        return {u: i for i, u in enumerate(self.user_ids.tolist())}

    @cached_property
    def item_index(self) -> dict:
        """Raw item id -> column index."""
        return {it: i for i, it in enumerate(self.item_ids.tolist())}

    def user_indices(self, raw_ids) -> np.ndarray:
        """Row indices (int64) of raw user ids; raises :class:`UnknownIdError` for an unknown one.

        Strings of digits are accepted for integer ids, so ids typed by a person or read from a
        text file work.
        """
        return self._indices(raw_ids, self.user_index, self.user_ids, "user")

    def item_indices(self, raw_ids) -> np.ndarray:
        """Column indices (int64) of raw item ids; raises :class:`UnknownIdError` when unknown."""
        return self._indices(raw_ids, self.item_index, self.item_ids, "item")

    @staticmethod
    def _indices(raw_ids, index: dict, ids: np.ndarray, kind: str) -> np.ndarray:
        if np.isscalar(raw_ids) or isinstance(raw_ids, str):
            raw_ids = [raw_ids]
        integer_ids = ids.dtype.kind == "i"
        out = np.empty(len(raw_ids), dtype=np.int64)
        for n, raw in enumerate(raw_ids):
            key = raw
            if integer_ids:
                try:
                    key = int(str(raw).strip())
                except ValueError:
                    raise UnknownIdError(kind, raw, f"{kind} ids are integers") from None
            else:
                key = str(raw)
            try:
                out[n] = index[key]
            except KeyError:
                raise UnknownIdError(kind, raw) from None
        return out

    def titles(self, item_indices) -> list[str]:
        """Titles of items given by index."""
        # iloc takes only the rows asked for: converting the whole column first cost 2 ms per
        # call at 59k items, and pages call this several times per rerun.
        return self.items["title"].iloc[np.asarray(item_indices, dtype=np.int64)].tolist()

    def user_items(self, user: int) -> np.ndarray:
        """Item indices (int32) the user (by index) interacted with."""
        start, stop = self.ratings.indptr[user], self.ratings.indptr[user + 1]
        return self.ratings.indices[start:stop]

    # ------------------------------------------------------------------ derivation
    def select_entries(self, mask: np.ndarray, *, name: str | None = None) -> "Dataset":
        """A dataset with the same users, items and tables holding only the entries in ``mask``.

        ``mask`` is a boolean array of shape (n_ratings,) aligned with ``ratings.data``.
        """
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self.n_ratings,):
            raise ValueError(f"mask has shape {mask.shape}, expected ({self.n_ratings},)")
        counts = np.bincount(self.entry_users[mask], minlength=self.n_users)
        indptr = np.zeros(self.n_users + 1, dtype=self.ratings.indptr.dtype)
        np.cumsum(counts, out=indptr[1:])
        ratings = sp.csr_matrix((self.ratings.data[mask].copy(), self.ratings.indices[mask].copy(),
                                 indptr), shape=self.shape)
        ratings.has_sorted_indices = True
        ts = None if self.timestamps is None else _readonly(self.timestamps[mask].copy())
        folds = {k: _readonly(v[mask].copy()) for k, v in self.folds.items()}
        return dataclasses.replace(self, ratings=ratings, timestamps=ts, folds=folds,
                                   name=name or self.name)

    def with_ratings(self, ratings: sp.csr_matrix, *, name: str | None = None) -> "Dataset":
        """A dataset with the same ids and tables but other interactions (timestamps dropped).

        ``ratings`` must have this dataset's shape.
        """
        if ratings.shape != self.shape:
            raise ValueError(f"ratings have shape {ratings.shape}, expected {self.shape}")
        ratings = sp.csr_matrix(ratings, dtype=np.float32, copy=True)  # ours to canonicalise
        ratings.sum_duplicates()
        ratings.eliminate_zeros()
        ratings.sort_indices()
        return dataclasses.replace(self, ratings=ratings, timestamps=None, folds={},
                                   name=name or self.name)

    def summary(self) -> dict:
        """Counts a person wants first: users, items, ratings, scale, genres, density."""
        return {
            "name": self.name,
            "source": self.source,
            "users": self.n_users,
            "items": self.n_items,
            "ratings": self.n_ratings,
            "rating scale": (f"{self.rating_scale[0]:g}-{self.rating_scale[1]:g}"
                             if self.rating_scale else "implicit"),
            "genres": len(self.genre_names),
            "density": self.density,
            "has timestamps": self.timestamps is not None,
            "has user features": self.users is not None,
        }


def _dense_span(*arrays: np.ndarray) -> tuple[int, int] | None:
    """(lowest, span) of int64 ids when a lookup table over their range is cheap, else None.

    Integer ids of real data sets are small and dense (MovieLens: 1..~300k), so a table indexed
    by id replaces sorting and binary search with one O(n) pass.
    """
    if not all(a.dtype.kind == "i" and len(a) for a in arrays):
        return None
    # (int32 and int64 mix: the table is indexed by offsets, computed in int64 below)
    lo = min(int(a.min()) for a in arrays)
    hi = max(int(a.max()) for a in arrays)
    span = hi - lo + 1
    return (lo, span) if span <= max(4 * sum(len(a) for a in arrays), 1 << 20) else None


def _pairs_strictly_increase(rows: np.ndarray, cols: np.ndarray, n_items: int,
                             block: int = 1 << 20) -> bool:
    """Whether (row, col) pairs are sorted with no repeat, checked in blocks that stay in the
    CPU cache (one 190 MB key array and its comparisons cost more at 23M rows than the check)."""
    n_items = max(n_items, 1)
    for start in range(0, len(rows) - 1, block):
        stop = min(start + block + 1, len(rows))
        key = rows[start:stop].astype(np.int64) * n_items + cols[start:stop]
        if not np.all(key[1:] > key[:-1]):
            return False
    return True


def _made_here(array: np.ndarray, given) -> bool:
    """Whether ``array`` (built from the caller's ``given``) is surely not the caller's memory:
    no input, or a converted ndarray (a Series or list may wrap memory someone else holds)."""
    return given is None or (isinstance(given, np.ndarray)
                             and not np.may_share_memory(array, given))


def _offsets(raw: np.ndarray, lo: int, span: int) -> np.ndarray:
    """``raw - lo`` as int32 when the span allows (half the memory traffic of int64 at 23M rows)."""
    if span < 2**31:
        return np.subtract(raw, np.int64(lo), dtype=np.int32, casting="unsafe")  # wraps exactly
    return raw - lo


def _unique_inverse(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(raw, return_inverse=True)``, in O(n) for dense integer ids."""
    dense = _dense_span(raw)
    if dense is None:
        ids, inverse = np.unique(raw, return_inverse=True)
        return (ids.astype(np.int64) if ids.dtype.kind == "i" else ids), inverse
    if len(raw) > 1 and bool(np.all(raw[1:] >= raw[:-1])):  # sorted (MovieLens users): runs
        starts = np.flatnonzero(raw[1:] != raw[:-1]) + 1
        starts = np.concatenate([np.zeros(1, dtype=starts.dtype), starts])
        counts = np.diff(np.append(starts, len(raw)))
        rank_dtype = np.int32 if len(starts) < 2**31 else np.int64
        return (raw[starts].astype(np.int64),
                np.repeat(np.arange(len(starts), dtype=rank_dtype), counts))
    lo, span = dense
    offset = _offsets(raw, lo, span)
    present = np.zeros(span, dtype=bool)
    present[offset] = True
    rank_dtype = np.int32 if span < 2**31 else np.int64
    rank = np.cumsum(present, dtype=rank_dtype) - 1
    return np.flatnonzero(present).astype(np.int64) + lo, np.take(rank, offset)  # take: 2x []


def _lookup(universe: np.ndarray, raw: np.ndarray, kind: str) -> np.ndarray:
    """Index of each raw id in ``universe``; DataError naming the first id that is missing."""
    dense = _dense_span(universe, raw)  # None unless both are integer
    if dense is not None:
        lo, span = dense
        index_dtype = np.int32 if len(universe) < 2**31 else np.int64
        table = np.full(span, -1, dtype=index_dtype)
        table[universe - lo] = np.arange(len(universe), dtype=index_dtype)
        if int((table >= 0).sum()) != len(universe):
            raise DataError(f"the {kind} id list has duplicates")
        index = np.take(table, _offsets(raw, lo, span))
        missing = index < 0
        if missing.any():
            first = int(np.argmax(missing))
            err = DataError(f"{kind} id {raw[first]!r} is not in the {kind}s list")
            err.row = first
            raise err
        return index
    if universe.dtype.kind != raw.dtype.kind:
        universe_s = np.asarray([str(x) for x in universe], dtype=object)
        raw = np.asarray([str(x) for x in raw], dtype=object)
    else:
        universe_s = universe
    order = np.argsort(universe_s, kind="stable")
    sorted_u = universe_s[order]
    if len(np.unique(sorted_u)) != len(sorted_u):
        raise DataError(f"the {kind} id list has duplicates")
    pos = np.searchsorted(sorted_u, raw)
    pos_c = np.minimum(pos, max(len(sorted_u) - 1, 0))
    found = (len(sorted_u) > 0) & (sorted_u[pos_c] == raw) if len(raw) else np.zeros(0, bool)
    if not np.all(found):
        first = int(np.flatnonzero(~found)[0])
        err = DataError(f"{kind} id {raw[first]!r} is not in the {kind}s list")
        err.row = first
        raise err
    return order[pos_c].astype(np.int64)


def _complete_item_table(table: pd.DataFrame | None, n_items: int, item_genres: np.ndarray,
                         genre_names: tuple[str, ...]) -> pd.DataFrame:
    df = pd.DataFrame(index=range(n_items)) if table is None else table.reset_index(drop=True).copy()
    if len(df) != n_items:
        raise DataError(f"item table has {len(df)} rows for {n_items} items")
    if "title" not in df:
        df["title"] = [f"item {i}" for i in range(n_items)]
    df["title"] = df["title"].astype(str)
    if "year" not in df:
        df["year"] = np.nan
    df["year"] = pd.to_numeric(df["year"], errors="coerce").astype(float)
    names = np.asarray(genre_names, dtype=object)
    if 0 < len(names) < 63 and n_items:  # joined once per distinct combination (ml-25m: ~1k)
        keys = item_genres.astype(np.int64) @ (np.int64(1) << np.arange(len(names), dtype=np.int64))
        combos, first, which = np.unique(keys, return_index=True, return_inverse=True)
        labels = np.asarray(["|".join(names[item_genres[i]]) for i in first], dtype=object)
        df["genres"] = labels[which.ravel()]
    else:
        df["genres"] = ["|".join(names[row]) for row in item_genres] if len(names) else ""
    return df


def as_interaction_matrix(data) -> tuple[sp.csr_matrix, Dataset | None]:
    """The (n_users, n_items) float32 CSR of a Dataset or of any SciPy sparse matrix / 2-D array."""
    if isinstance(data, Dataset):
        return data.ratings, data
    if sp.issparse(data):
        m = sp.csr_matrix(data, dtype=np.float32)
    elif isinstance(data, np.ndarray) and data.ndim == 2:
        m = sp.csr_matrix(data.astype(np.float32))
    else:
        raise TypeError(f"fit expects a Dataset or a sparse user x item matrix, got {type(data).__name__}")
    if not m.has_canonical_format or (m.nnz and not np.all(m.data)):
        m = m.copy()  # the caller's matrix is never modified
        m.sum_duplicates()
        m.eliminate_zeros()
        m.sort_indices()
    return m, None
