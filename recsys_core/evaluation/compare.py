"""Paired comparisons of two recommenders scored on the same held-out users.

Two runs trained on the same train/test split are scored on the same users, so each user gives a
pair of values (one per model) and the question "is A better than B?" is answered on the per-user
differences: a paired t interval and p-value for every metric that has one value per user
(NDCG@k, recall@k, ..., novelty, per-user RMSE), and a paired bootstrap over users for the
set-level metrics (catalogue coverage@k and the exposure Gini of the recommended items), which
have no per-user value. Why these tests, and what they do not say: ``docs/comparisons.md``.

The entry point for saved runs is :func:`compare_runs`; :func:`paired_difference` and
:func:`per_user_metrics` work on arrays and models directly.
"""
from __future__ import annotations

import math
import weakref
from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy import stats

from ..errors import HyperparameterError, SplitMismatchError
from .split import describe_split
from .metrics import (EVALUATION_SAMPLE_SEED, EVALUATION_SAMPLE_USERS, _first_occurrence,
                      _lists, _relevance_matrix, gini_coefficient,
                      intra_list_diversity_per_list, long_tail_mask, novelty_per_list,
                      popularity_percentile_per_list, ranking_metrics_per_user, recommend_lists,
                      sample_users)

#: Metrics where a smaller value is the better one (all others: larger is better, except those
#: of :data:`NO_BETTER_DIRECTION`).
LOWER_IS_BETTER = frozenset({"rmse", "mae", "gini"})
#: Metrics that describe lists without one direction being better (the verdict says "higher").
NO_BETTER_DIRECTION = frozenset({"popularity_percentile"})
#: Set-level metrics: one value per list set, compared by a paired bootstrap over users.
SET_LEVEL_METRICS = ("coverage", "gini")
#: Bootstrap resamples for the set-level metrics, and their seed.
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
#: Activity groups of :meth:`RunComparison.breakdown`, fewest training interactions first.
ACTIVITY_GROUPS = ("cold", "light", "heavy")
#: Popularity groups of :meth:`RunComparison.breakdown` and the head's share of the catalogue.
POPULARITY_GROUPS = ("head", "long tail")
HEAD_SHARE = 0.2
#: Resamples whose item counts are held at once (n_items x this many floats).
_BOOTSTRAP_BLOCK = 100


def _base_name(metric: str) -> str:
    return metric.split("@", 1)[0]


def _number(x: float) -> str:
    return f"{x:.3g}"


def _p_text(p: float, method: str = "paired t") -> str:
    if not np.isfinite(p):
        return "p = n/a"
    if method == "paired bootstrap" and p <= 1.000001 / (BOOTSTRAP_RESAMPLES + 1):
        return f"p <= {p:.2g}"  # no resample as extreme: the smallest p the resamples can give
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.2g}"


@dataclass(frozen=True)
class PairedDifference:
    """The difference of a metric between two models over the same users.

    Attributes
    ----------
    metric : str
    mean_a, mean_b : float
        The metric's mean over the paired users (set-level metrics: its value on all of them).
    diff : float
        mean_a - mean_b.
    ci_low, ci_high : float
        Confidence interval of ``diff`` (NaN with fewer than two users).
    p_value : float
        Two-sided p-value of "no difference".
    n_users : int
        Users in the comparison (those with a value for both models).
    confidence : float
    method : str
        "paired t" (per-user metrics) or "paired bootstrap" (set-level metrics).
    """

    metric: str
    mean_a: float
    mean_b: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    n_users: int
    confidence: float = 0.95
    method: str = "paired t"

    @property
    def significant(self) -> bool:
        """True when the interval excludes 0."""
        return bool(self.ci_low > 0 or self.ci_high < 0)

    def verdict(self, name_a: str = "A", name_b: str = "B") -> str:
        """One line: "A is better by 0.012 [0.006, 0.018] in ndcg@10, p = 0.0004" (for RMSE, MAE
        and Gini a lower value is better; popularity percentile is only "higher"), "A and B are
        not distinguishable on these 943 users (...)", or "A and B give the same ..." when every
        paired value is equal."""
        if self.n_users and self.diff == 0 and self.ci_low == 0 and self.ci_high == 0:
            return (f"{name_a} and {name_b} give the same {self.metric} on these "
                    f"{self.n_users:,} users (difference 0)")
        if not self.significant:
            return (f"{name_a} and {name_b} are not distinguishable on these {self.n_users:,} "
                    f"users ({self.metric} difference {_number(self.diff)} "
                    f"[{_number(self.ci_low)}, {_number(self.ci_high)}], "
                    f"{_p_text(self.p_value, self.method)})")
        base = _base_name(self.metric)
        a_higher = self.diff > 0
        if base in NO_BETTER_DIRECTION:
            word = "higher"
            first, second = (name_a, name_b) if a_higher else (name_b, name_a)
        else:
            word = "better"
            a_better = a_higher != (base in LOWER_IS_BETTER)
            first, second = (name_a, name_b) if a_better else (name_b, name_a)
        low, high = sorted((abs(self.ci_low), abs(self.ci_high)))
        return (f"{first} is {word} by {_number(abs(self.diff))} [{_number(low)}, "
                f"{_number(high)}] in {self.metric}, {_p_text(self.p_value, self.method)}")

    def as_dict(self) -> dict:
        """The fields plus ``significant`` and the ``verdict`` with names A and B."""
        return {**asdict(self), "significant": self.significant, "verdict": self.verdict()}


def _pairs(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired values need equal lengths, got {a.size} and {b.size}")
    keep = ~(np.isnan(a) | np.isnan(b))
    return a[keep], b[keep]


def paired_difference(a, b, metric: str = "", confidence: float = 0.95) -> PairedDifference:
    """Paired t comparison of per-user values ``a`` and ``b`` (same users, same order).

    Users with NaN in either array are dropped (pairwise). With d = a - b over the n remaining
    users, the interval is mean(d) +- t_{n-1, (1+confidence)/2} * sd(d) / sqrt(n) and the p-value
    the two-sided one of t = mean(d) / (sd(d) / sqrt(n)) (as ``scipy.stats.ttest_rel``). When
    every difference is 0 (e.g. a model compared with itself) the difference is exactly 0 with
    the interval (0, 0) and p = 1; with fewer than two users the interval and p are NaN.
    """
    if not 0 < confidence < 1:
        raise HyperparameterError(f"confidence must be in (0, 1), got {confidence}")
    a, b = _pairs(a, b)
    n = a.size
    d = a - b
    mean_a = float(a.mean()) if n else float("nan")
    mean_b = float(b.mean()) if n else float("nan")
    diff = float(d.mean()) if n else float("nan")
    if n < 2:
        return PairedDifference(metric, mean_a, mean_b, diff, math.nan, math.nan, math.nan, n,
                                confidence)
    se = float(d.std(ddof=1)) / math.sqrt(n)
    if se == 0.0 or not np.any(d != d[0]):  # every difference equal: no spread to test
        p = 1.0 if diff == 0.0 else 0.0
        return PairedDifference(metric, mean_a, mean_b, diff, diff, diff, p, n, confidence)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * se
    p = float(2 * stats.t.sf(abs(diff) / se, n - 1))
    return PairedDifference(metric, mean_a, mean_b, diff, diff - half, diff + half, p, n,
                            confidence)


# ---------------------------------------------------------------------------- per-user metrics
def _per_user_from_lists(recommended: np.ndarray, relevant: sp.csr_matrix, k: int, *,
                         item_popularity, item_genres, n_users: int) -> dict[str, np.ndarray]:
    out = ranking_metrics_per_user(recommended, relevant, k)
    if item_popularity is not None:
        out["novelty"] = novelty_per_list(recommended, item_popularity, n_users)
        out["popularity_percentile"] = popularity_percentile_per_list(recommended,
                                                                      item_popularity)
    if item_genres is not None and np.asarray(item_genres).size:
        out["diversity_genre"] = intra_list_diversity_per_list(recommended, item_genres,
                                                               "jaccard")
    return out


def _rating_errors(model, test_rows: sp.csr_matrix, users: np.ndarray) -> dict[str, np.ndarray]:
    """Per-user RMSE and MAE over each user's test entries (NaN for a user without any)."""
    rated = test_rows.tocoo()
    error = model.predict(users[rated.row], rated.col) - rated.data
    count = np.bincount(rated.row, minlength=len(users)).astype(np.float64)
    squared = np.bincount(rated.row, weights=error * error, minlength=len(users))
    absolute = np.bincount(rated.row, weights=np.abs(error), minlength=len(users))
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"rmse": np.where(count > 0, np.sqrt(squared / count), np.nan),
                "mae": np.where(count > 0, absolute / count, np.nan)}


def _score(model, test_csr, users, k, *, item_popularity, item_genres, n_users,
           relevance_threshold) -> tuple[dict[str, np.ndarray], np.ndarray, sp.csr_matrix]:
    """(per-user metrics, top-k lists, relevant rows) of ``model`` for ``users``."""
    test = sp.csr_matrix(test_csr)
    users = np.asarray(users, dtype=np.int64)
    if test.shape != (model.n_users_, model.n_items_):
        raise HyperparameterError(f"the test matrix has shape {test.shape} but the model was "
                                  f"trained on {model.n_users_} x {model.n_items_}")
    if item_popularity is None:
        item_popularity = np.bincount(model.seen_.indices, minlength=model.n_items_)
    recommended = recommend_lists(model, users, k)
    test_rows = test[users]
    relevant = _relevance_matrix(test_rows, relevance_threshold)
    out = _per_user_from_lists(recommended, relevant, k, item_popularity=item_popularity,
                               item_genres=item_genres, n_users=n_users or model.n_users_)
    if model.predicts_ratings:
        out.update(_rating_errors(model, test_rows, users))
    return out, recommended, relevant


#: Each loaded model's scores of :func:`_score`, by split fingerprint, users, k and relevance
#: threshold: a reference compared with nine runs is scored once, not nine times. Dropped with
#: the model.
_SCORED = weakref.WeakKeyDictionary()


def _scored_once(model, split_fingerprint: str, test_csr, users, k, **options):
    key = (split_fingerprint, int(k), options["relevance_threshold"],
           np.asarray(users, dtype=np.int64).tobytes())
    try:
        cache = _SCORED.setdefault(model, {})
    except TypeError:  # a model that cannot be weakly referenced is scored every time
        return _score(model, test_csr, users, k, **options)
    if key not in cache:
        cache[key] = _score(model, test_csr, users, k, **options)
    return cache[key]


def per_user_metrics(model, test_csr, users, k: int = 10, *, item_popularity=None,
                     item_genres=None, n_users: int | None = None,
                     relevance_threshold: float | None = None) -> dict[str, np.ndarray]:
    """One value per user of every metric that has one, for paired comparisons.

    Parameters
    ----------
    model : Recommender, fitted
    test_csr : CSR (model.n_users_, model.n_items_)
        Held-out interactions in the model's index space.
    users : int array (n,)
        The users to score, in the order of the returned arrays.
    k : int
    item_popularity : int array (n_items,), optional
        Training users per item, for novelty and popularity percentile; defaults to the model's
        training interactions.
    item_genres : bool array (n_items, n_genres), optional
        Adds "diversity_genre" (Jaccard intra-list diversity).
    n_users : int, optional
        Population ``item_popularity`` was counted over (novelty); default ``model.n_users_``.
    relevance_threshold : float, optional
        Only test entries rated at least this are relevant for the top-k metrics.

    Returns
    -------
    dict of str -> float64 array (n,): "ndcg@k", "recall@k", "precision@k", "map@k",
    "hit_rate@k" (NaN for users without relevant test items, see
    :func:`~recsys_core.evaluation.metrics.ranking_metrics_per_user`), "novelty" and
    "popularity_percentile" of each list, "diversity_genre" when genres are given, and when
    ``model.predicts_ratings`` "rmse" and "mae" over each user's test entries (so their mean is
    a per-user average, not the pooled RMSE over all entries a run's metrics report).
    """
    values, _, _ = _score(model, test_csr, users, k, item_popularity=item_popularity,
                          item_genres=item_genres, n_users=n_users,
                          relevance_threshold=relevance_threshold)
    return values


# ---------------------------------------------------------------------------- set-level metrics
def _list_counts(recommended: np.ndarray, n_items: int) -> sp.csr_matrix:
    """CSR (n_lists, n_items): 1 where a list shows an item (repeats and padding dropped)."""
    rec = _lists(recommended, max(1, recommended.shape[1]), n_items)
    first = _first_occurrence(rec)
    rows = np.repeat(np.arange(rec.shape[0]), rec.shape[1])[first.ravel()]
    return sp.csr_matrix((np.ones(rows.size), (rows, rec[first])), shape=(rec.shape[0], n_items))


def _set_statistics(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Coverage and exposure Gini of item counts of shape (n_items, n_sets)."""
    return {"coverage": (counts > 0).mean(axis=0), "gini": gini_coefficient(counts, axis=0)}


def paired_bootstrap_set_metrics(lists_a, lists_b, n_items: int, *, confidence: float = 0.95,
                                 n_resamples: int = BOOTSTRAP_RESAMPLES,
                                 seed: int = BOOTSTRAP_SEED) -> dict[str, PairedDifference]:
    """Coverage and exposure Gini of two models' lists for the same users, compared by a paired
    bootstrap over users.

    Each resample draws the users with replacement (the same draw for both models), recomputes
    both statistics on the drawn users' lists and keeps their difference. Drawing with
    replacement repeats users, which by itself lowers coverage and shifts the Gini, so the
    resampled differences are centred on their mean: the interval is the observed difference
    plus their central ``confidence`` quantiles, and the two-sided p-value the share of them at
    least as far from their mean as the observed difference is from 0 (with the usual +1
    correction). Deterministic for a given ``seed``.

    Parameters
    ----------
    lists_a, lists_b : int arrays (n_users, k), -1 padded; row u of both is the same user
    n_items : int

    Returns
    -------
    {"coverage": PairedDifference, "gini": PairedDifference} with method "paired bootstrap".
    """
    xa, xb = _list_counts(np.asarray(lists_a), n_items), _list_counts(np.asarray(lists_b), n_items)
    if xa.shape[0] != xb.shape[0]:
        raise ValueError(f"paired lists need equal numbers of users, got {xa.shape[0]} and "
                         f"{xb.shape[0]}")
    n = xa.shape[0]
    ones = np.ones((n, 1))
    observed_a = _set_statistics(np.asarray(xa.T @ ones))
    observed_b = _set_statistics(np.asarray(xb.T @ ones))
    rng = np.random.default_rng(seed)
    draws = {name: [] for name in SET_LEVEL_METRICS}
    for start in range(0, n_resamples if n else 0, _BOOTSTRAP_BLOCK):
        block = min(_BOOTSTRAP_BLOCK, n_resamples - start)
        picks = rng.integers(0, n, size=(block, n))
        # How often each user is drawn in each resample: (n_users, block).
        weight = np.bincount((picks + np.arange(block)[:, None] * n).ravel(),
                             minlength=block * n).reshape(block, n).T.astype(np.float64)
        sa, sb = _set_statistics(xa.T @ weight), _set_statistics(xb.T @ weight)
        for name in SET_LEVEL_METRICS:
            draws[name].append(sa[name] - sb[name])
    out = {}
    alpha = 1.0 - confidence
    for name in SET_LEVEL_METRICS:
        a, b = float(observed_a[name][0]), float(observed_b[name][0])
        d = np.concatenate(draws[name]) if draws[name] else np.zeros(0)
        d = d[~np.isnan(d)]
        if n < 2 or not d.size:
            out[name] = PairedDifference(name, a, b, a - b, math.nan, math.nan, math.nan, n,
                                         confidence, "paired bootstrap")
            continue
        observed = a - b
        spread = d - d.mean()
        low, high = observed + np.quantile(spread, [alpha / 2, 1 - alpha / 2])
        if not np.any(spread != 0):  # every resample gives the same difference
            low = high = observed
        extreme = np.count_nonzero(np.abs(spread) >= abs(observed))
        p = float(min(1.0, (1 + extreme) / (d.size + 1)))
        out[name] = PairedDifference(name, a, b, observed, float(low), float(high), p, n,
                                     confidence, "paired bootstrap")
    return out


# ---------------------------------------------------------------------------- saved runs
@dataclass
class RunComparison:
    """Two runs scored on the same users (see :func:`compare_runs`).

    Attributes
    ----------
    name_a, name_b : str
    k : int
    users : int array (n,)
        The compared users (indices of the runs' shared index space).
    per_user_a, per_user_b : dict of str -> float array (n,)
        :func:`per_user_metrics` of each run, aligned with ``users``.
    differences : dict of str -> PairedDifference
        Every per-user metric (paired t) plus "coverage" and "gini" (paired bootstrap).
    user_activity : str array (n,)
        "cold", "light" or "heavy": the user's training interactions up to the first tercile
        of the compared users' counts, up to the second, or above (:attr:`activity_cutoffs`).
    activity_cutoffs : (float, float)
        The two tercile cut-offs of training interactions.
    user_ids : array (n,)
        Raw ids of ``users``, as the dataset names them.
    lists_a, lists_b : int arrays (n, k)
        Each run's top-k lists for ``users``.
    relevant : CSR (n, n_items)
        The users' relevant held-out items.
    long_tail : bool array (n_items,)
        Items outside the most popular :data:`HEAD_SHARE` of the training data.
    split_name : str
    confidence : float
    """

    name_a: str
    name_b: str
    k: int
    users: np.ndarray
    per_user_a: dict[str, np.ndarray]
    per_user_b: dict[str, np.ndarray]
    differences: dict[str, PairedDifference]
    user_activity: np.ndarray
    activity_cutoffs: tuple[float, float] = (math.nan, math.nan)
    user_ids: np.ndarray | None = None
    lists_a: np.ndarray | None = field(default=None, repr=False)
    lists_b: np.ndarray | None = field(default=None, repr=False)
    relevant: sp.csr_matrix | None = field(default=None, repr=False)
    long_tail: np.ndarray | None = field(default=None, repr=False)
    split_name: str = ""
    confidence: float = 0.95

    def verdict(self, metric: str) -> str:
        """:meth:`PairedDifference.verdict` of ``metric`` with the runs' names."""
        return self.differences[metric].verdict(self.name_a, self.name_b)

    def breakdown(self, by: str):
        """Paired differences within groups of users or items, as a DataFrame.

        ``by="activity"``: every per-user metric within the cold, light and heavy users.
        ``by="popularity"``: recall@k counting only the held-out items of the head (the most
        popular :data:`HEAD_SHARE` of the catalogue in training) or of the long tail, per user
        (users without held-out items of a group are left out of it).

        Returns a DataFrame with columns group, metric, then the fields of
        :meth:`PairedDifference.as_dict` (verdict with the runs' names).
        """
        import pandas as pd

        rows = []
        if by == "activity":
            for group in ACTIVITY_GROUPS:
                members = self.user_activity == group
                for metric in self.per_user_a:
                    rows.append((group, paired_difference(
                        self.per_user_a[metric][members], self.per_user_b[metric][members],
                        metric, self.confidence)))
        elif by == "popularity":
            if self.relevant is None or self.long_tail is None:
                raise HyperparameterError("this comparison holds no lists to break down by "
                                          "item popularity")
            metric = f"recall@{self.k}"
            for group, mask in zip(POPULARITY_GROUPS, (~self.long_tail, self.long_tail)):
                relevant = self.relevant @ sp.diags(mask.astype(self.relevant.dtype))
                relevant = sp.csr_matrix(relevant)
                relevant.eliminate_zeros()
                a = ranking_metrics_per_user(self.lists_a, relevant, self.k)[metric]
                b = ranking_metrics_per_user(self.lists_b, relevant, self.k)[metric]
                rows.append((group, paired_difference(a, b, metric, self.confidence)))
        else:
            raise HyperparameterError(f"breakdown by {by!r}: expected 'activity' or 'popularity'")
        records = []
        for group, diff in rows:
            record = {"group": group, **diff.as_dict()}
            record["verdict"] = diff.verdict(self.name_a, self.name_b)
            records.append(record)
        return pd.DataFrame.from_records(records)

    def table(self):
        """Every difference as a DataFrame (one row per metric, the fields of
        :meth:`PairedDifference.as_dict`, verdict with the runs' names)."""
        import pandas as pd

        return pd.DataFrame.from_records(
            [{**d.as_dict(), "verdict": d.verdict(self.name_a, self.name_b)}
             for d in self.differences.values()])


def _describe(params: dict | None) -> str:
    return describe_split(params or {}) if params else "no split"


def check_comparable(info_a, info_b) -> None:
    """Raise :class:`SplitMismatchError` saying why two runs cannot be compared user by user:
    one has no recorded split, their datasets differ, or their splits do (params or
    fingerprint). ``info_a``, ``info_b``: the runs' records (``Run.info``, a RunInfo), so a
    caller can check before loading any model."""
    for label, info in (("A", info_a), ("B", info_b)):
        if not info.split:
            raise SplitMismatchError(
                f"run {info.name!r} ({label}) was trained on all its data: it has no held-out "
                "users to compare on (train both runs with --holdout on the same split)")
    data_a, data_b = info_a.dataset, info_b.dataset
    if data_a.get("fingerprint") != data_b.get("fingerprint"):
        raise SplitMismatchError(
            f"the runs were trained on different datasets: {info_a.name!r} on "
            f"{data_a.get('name', '?')} ({data_a.get('fingerprint')}), {info_b.name!r} on "
            f"{data_b.get('name', '?')} ({data_b.get('fingerprint')})")
    split_a, split_b = info_a.split, info_b.split
    if split_a.get("params") != split_b.get("params"):
        pa, pb = split_a.get("params") or {}, split_b.get("params") or {}
        differing = sorted(k for k in set(pa) | set(pb) if pa.get(k) != pb.get(k))
        raise SplitMismatchError(
            f"the runs were evaluated on different train/test splits ({', '.join(differing)} "
            f"{'differs' if len(differing) == 1 else 'differ'}): {info_a.name!r} on "
            f"{_describe(pa)}, {info_b.name!r} on {_describe(pb)}: different test users, so "
            "no per-user pairing")
    if (split_a.get("fingerprint") and split_b.get("fingerprint")
            and split_a["fingerprint"] != split_b["fingerprint"]):
        raise SplitMismatchError(
            f"the runs' train/test splits have the same settings but different fingerprints "
            f"({split_a['fingerprint']} vs {split_b['fingerprint']}): they held out different "
            "entries")


def _rebuild_split(run):
    """The split a run was trained on, from its source dataset (checked against its record)."""
    from ..data.discovery import load_recorded_dataset
    from .split import make_split

    data = load_recorded_dataset(run.info.dataset, "comparing runs", "their held-out entries")
    return make_split(data, run.info.split["params"])


def _check_split(split, run) -> None:
    recorded = run.info.split
    if dict(split.params) != recorded.get("params"):
        raise SplitMismatchError(f"the given split ({_describe(split.params)}) is not the one "
                                 f"run {run.info.name!r} was trained on "
                                 f"({_describe(recorded.get('params'))})")
    if recorded.get("fingerprint") and split.fingerprint != recorded["fingerprint"]:
        raise SplitMismatchError(f"the given split differs from the one run {run.info.name!r} "
                                 "was trained on (its fingerprint does not match)")


def activity_groups(counts) -> tuple[np.ndarray, tuple[float, float]]:
    """("cold" / "light" / "heavy" per user, (first, second tercile)) of training-interaction
    counts: cold up to the first tercile, light up to the second, heavy above."""
    counts = np.asarray(counts, dtype=np.float64)
    if not counts.size:
        return np.zeros(0, dtype=object), (math.nan, math.nan)
    low, high = np.quantile(counts, [1 / 3, 2 / 3])
    labels = np.where(counts <= low, "cold", np.where(counts <= high, "light", "heavy"))
    return labels.astype(object), (float(low), float(high))


def compare_runs(run_a, run_b, *, k: int = 10, max_users: int = EVALUATION_SAMPLE_USERS,
                 metrics=None, split=None, confidence: float = 0.95,
                 relevance_threshold: float | None = None) -> RunComparison:
    """Score two saved runs on the same held-out users and compare every metric pairwise.

    Parameters
    ----------
    run_a, run_b : recsys_core.runs.store.Run
        Runs trained on the same dataset and train/test split.
    k : int
    max_users : int
        All test users when there are at most this many, else the seeded sample of
        :func:`~recsys_core.evaluation.metrics.sample_users` (the users the runs' own metrics
        were computed on).
    metrics : iterable of str, optional
        Keep only these differences (names as in :func:`per_user_metrics`, plus "coverage" and
        "gini"); default all.
    split : Split, optional
        The runs' split when the caller has it already (checked against their record);
        otherwise it is rebuilt once from the dataset.
    confidence : float
    relevance_threshold : float, optional
        Only test entries rated at least this are relevant for the top-k metrics.

    Raises
    ------
    SplitMismatchError
        When a run has no split, or the runs' datasets or splits differ (the message says which).
    HyperparameterError
        When the dataset cannot be loaded again or changed since, or for an unknown metric.
    """
    if k < 1:
        raise HyperparameterError(f"k must be >= 1, got {k}")
    if max_users < 1:
        raise HyperparameterError(f"max_users must be >= 1, got {max_users}")
    check_comparable(run_a.info, run_b.info)
    if split is None:
        split = _rebuild_split(run_a)
    _check_split(split, run_a)
    _check_split(split, run_b)
    train, test = split.train, split.test
    users = sample_users(test.ratings, max_users, EVALUATION_SAMPLE_SEED)
    popularity = train.item_popularity
    genres = test.item_genres if test.item_genres.size else None
    scored = [_scored_once(run.model, split.fingerprint, test.ratings, users, k,
                           item_popularity=popularity, item_genres=genres,
                           n_users=train.n_users, relevance_threshold=relevance_threshold)
              for run in (run_a, run_b)]
    (values_a, lists_a, relevant), (values_b, lists_b, _) = scored
    names = [m for m in values_a if m in values_b] + list(SET_LEVEL_METRICS)
    if metrics is not None:
        wanted = list(metrics)
        unknown = [m for m in wanted if m not in names]
        errors = [m for m in unknown if m in ("rmse", "mae")]
        if errors:
            which = [run.info.name for run in (run_a, run_b) if not run.model.predicts_ratings]
            raise HyperparameterError(f"{errors[0]} compares rating estimates, but the scores of "
                                      f"{' and '.join(map(repr, which))} only rank items")
        if unknown:
            raise HyperparameterError(f"unknown metric {unknown[0]!r} for these runs; expected "
                                      f"one of {', '.join(names)}")
        names = [m for m in names if m in wanted]
    differences = {m: paired_difference(values_a[m], values_b[m], m, confidence)
                   for m in names if m not in SET_LEVEL_METRICS}
    if any(m in SET_LEVEL_METRICS for m in names):
        boot = paired_bootstrap_set_metrics(lists_a, lists_b, train.n_items,
                                            confidence=confidence)
        differences.update({m: boot[m] for m in SET_LEVEL_METRICS if m in names})
    activity, cutoffs = activity_groups(train.user_activity[users])
    return RunComparison(
        name_a=run_a.info.name, name_b=run_b.info.name, k=k, users=users,
        per_user_a=values_a, per_user_b=values_b, differences=differences,
        user_activity=activity, activity_cutoffs=cutoffs, user_ids=train.user_ids[users],
        lists_a=lists_a, lists_b=lists_b, relevant=relevant,
        long_tail=long_tail_mask(popularity, HEAD_SHARE), split_name=split.name,
        confidence=confidence)


__all__ = ["LOWER_IS_BETTER", "PairedDifference", "RunComparison", "activity_groups",
           "check_comparable", "compare_runs", "paired_bootstrap_set_metrics",
           "paired_difference", "per_user_metrics"]
