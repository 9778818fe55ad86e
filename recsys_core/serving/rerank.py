"""Re-ranking: filters, score transforms, diversity and fairness over one user's candidate list,
with a per-item explanation of every adjustment.

Stages, in order (each knob of :class:`RerankConfig` is neutral by default):

1. Filters remove items: seen, disliked (rated <= a threshold), excluded genres, fewer than a
   minimum number of ratings. Removed items are counted by reason, never shown.
2. Score transforms. The base scores (any scale, any sign) become a relevance in (0, 1] by
   min-max scaling over the remaining candidates (the worst keeps 1% of the range so that
   multipliers can still lift it); then

       final = relevance * freshness * popularity_penalty
       freshness = 0.5 ** (age_years / half_life)        (age from the newest release year)
       popularity_penalty = 1 / max(1, n_ratings) ** b

3. Diversity: maximal marginal relevance picks the list greedily, maximizing
   lambda * final / max(final) - (1 - lambda) * max similarity to the items already picked
   (genre cosine or embedding cosine); an optional cap limits items per genre (an item counts
   for each of its genres; items that would break it are skipped, so a list may be shorter).
4. Fairness: if the share of a chosen item group (long-tail items or a genre) in the list is
   below a target, the lowest-scoring non-group items are swapped for the best-scoring group
   items left out; that needs the fewest swaps and, among those, loses the least total final
   score. The items brought in are placed by final score (in score order among themselves).
   The achieved share is reported; it may stay below the target when the pool has too few
   group items (the target is then unreachable;
   :func:`recsys_core.serving.pipeline.recommend_pipeline` retrieves the group's own candidates so
   that only a catalogue short of them leaves it so).

Every output row says which stages changed the item's position (``moved_by``: a filter that
removed candidates ranked above it, a score transform, diversity, fairness) and, in a sentence,
why (``why``): an item fairness brought in says it was promoted for the group, how many places,
and why its final score is low (a base score far below the best candidate's, an old release, a
popularity penalty).
"""
from __future__ import annotations

import dataclasses
import math
import weakref
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from ..data.dataset import Dataset
from ..errors import HyperparameterError
from ..evaluation.metrics import long_tail_mask  # noqa: F401  (defined with the metrics)
from ..validation import check_param

#: Stages that can move an item, in the order they run (the values of ``moved_by``).
STAGES = ("freshness", "popularity_penalty", "diversity", "fairness")
#: The filters of stage 1, in the order they apply (the keys of ``RerankResult.filtered``); an
#: item moved up because candidates above it were removed says ``"<filter> filter"``.
FILTERS = ("seen", "disliked", "genre", "min_ratings")
#: ``moved_by`` of an item already in the list that moved because fairness swapped items out
#: of, or into, the places above it.
GROUP_SWAPS = "group swaps"
#: Ways to measure the similarity of two items for diversity.
DIVERSITY_SIMILARITIES = ("genre", "embedding")
LONG_TAIL = "long-tail"


@dataclass(frozen=True)
class RerankConfig:
    """Every re-ranking knob; the defaults change nothing (beyond hiding seen items, which
    matches ``Recommender.recommend(exclude_seen=True)``).

    Attributes
    ----------
    hide_seen : bool
        Remove items the user has interacted with.
    hide_disliked : float or None
        Remove items the user rated at or below this value (explicit data only).
    exclude_genres : tuple of str
        Remove items having any of these genres.
    min_ratings : int
        Remove items with fewer ratings than this.
    freshness_half_life : float or None
        Years after which the freshness multiplier halves; None disables the boost.
    reference_year : float or None
        "Now" for the freshness age; defaults to the newest release year of the catalogue.
    popularity_penalty : float
        Exponent b of the popularity divisor n_ratings ** b (0 disables it).
    diversity : float in [0, 1]
        MMR lambda: 1 keeps the order by score, 0 only avoids similar items.
    diversity_similarity : {"genre", "embedding"}
    max_per_genre : int or None
        Most items of one genre in the list.
    fair_group : str or None
        "long-tail" (items outside the most popular ``head_share`` of the catalogue) or a genre.
    fair_share : float in [0, 1]
        Target minimum share of the list from ``fair_group``.
    head_share : float in (0, 1)
        Share of the catalogue, by popularity, that counts as the head (not long-tail).
    """

    hide_seen: bool = True
    hide_disliked: float | None = None
    exclude_genres: tuple[str, ...] = ()
    min_ratings: int = 0
    freshness_half_life: float | None = None
    reference_year: float | None = None
    popularity_penalty: float = 0.0
    diversity: float = 1.0
    diversity_similarity: str = "genre"
    max_per_genre: int | None = None
    fair_group: str | None = None
    fair_share: float = 0.0
    head_share: float = 0.2

    def __post_init__(self):
        if isinstance(self.exclude_genres, str):
            object.__setattr__(self, "exclude_genres", tuple(
                g.strip() for g in self.exclude_genres.split(",") if g.strip()))
        else:
            object.__setattr__(self, "exclude_genres", tuple(self.exclude_genres))
        if self.hide_disliked is not None:
            check_param("hide_disliked", self.hide_disliked)
        check_param("min_ratings", self.min_ratings, low=0, integer=True)
        if self.freshness_half_life is not None:
            check_param("freshness_half_life", self.freshness_half_life, low=0, low_open=True)
        if self.reference_year is not None:
            check_param("reference_year", self.reference_year)
        check_param("popularity_penalty", self.popularity_penalty, low=0)
        check_param("diversity", self.diversity, low=0, high=1)
        check_param("diversity_similarity", self.diversity_similarity,
                    choices=DIVERSITY_SIMILARITIES)
        if self.max_per_genre is not None:
            check_param("max_per_genre", self.max_per_genre, low=1, integer=True)
        check_param("fair_share", self.fair_share, low=0, high=1)
        check_param("head_share", self.head_share, low=0, low_open=True, high=1)
        if self.fair_share > 0 and self.fair_group is None:
            raise HyperparameterError("fair_share needs a fair_group (long-tail or a genre)")

    def replace(self, **changes) -> "RerankConfig":
        """A copy with some knobs changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @property
    def is_neutral(self) -> bool:
        """True when every knob has its default value: re-ranking keeps the order by base score
        and only hides seen items."""
        return self == type(self)()


@dataclass
class RerankResult:
    """A re-ranked list and how it came about.

    Attributes
    ----------
    columns : dict of str -> ndarray
        The per-item explanation as arrays, best first (what :attr:`table` shows).
    filtered : dict of str -> int
        Candidates removed by each filter ("seen", "disliked", "genre", "min_ratings").
    group_share : float or None
        Share of the list in the fair group (None without a group).
    group_target : float or None
    group_target_reachable : bool or None
        Whether the pool had enough group items to reach the target.
    pool : CandidatePool or None
        The candidates the list was picked from, when it came from
        :mod:`recsys_core.serving.pipeline`.
    before : ndarray of int64 or None
        The pool's top k by base score: the list without re-ranking (from the pipeline).
    """

    columns: dict
    filtered: dict[str, int] = field(default_factory=dict)
    group_share: float | None = None
    group_target: float | None = None
    group_target_reachable: bool | None = None
    pool: object = None
    before: np.ndarray | None = None

    @property
    def items(self) -> np.ndarray:
        """Listed item indices, best first (int64)."""
        return self.columns["item"]

    @cached_property
    def table(self) -> pd.DataFrame:
        """One row per listed item, best first: item, rank (1-based), title (when the dataset
        has titles), base_score, relevance, freshness (multiplier), popularity_penalty
        (multiplier), final_score, redundancy (max similarity to the items above it when
        picked), in_group (fair group membership), original_rank (1-based rank of the base score
        among all candidates, or in the whole catalogue when the caller gave ``base_rank``),
        moved_by (filters and stages that changed the item's position, joined by "+", or
        "none"), why (the move in words: "" for an item that did not move), plus
        ``nominated_by`` from the pipeline. Built on first access: lists computed for metrics
        never pay for a DataFrame."""
        return pd.DataFrame(self.columns)

    @property
    def moves(self) -> list[str]:
        """How far each listed item moved from its rank by base score: "=", "↑n" (up n places)
        or "↓n", best first."""
        out = []
        for original, rank in zip(self.columns["original_rank"], self.columns["rank"]):
            shift = int(original) - int(rank)
            out.append("=" if shift == 0 else f"↑{shift}" if shift > 0 else f"↓{-shift}")
        return out


class _CatalogueArrays:
    """Per-dataset arrays every re-ranking call reads, extracted from pandas once."""

    def __init__(self, dataset: Dataset):
        years = dataset.items["year"].to_numpy(dtype=np.float64)
        known = np.isfinite(years)
        self.newest_year = float(years[known].max()) if known.any() else 0.0
        # Unknown release years get the catalogue's median: neither boosted nor buried.
        self.years = np.where(known, years, np.median(years[known]) if known.any() else 0.0)
        self.titles = (dataset.items["title"].to_numpy(dtype=object)
                       if "title" in dataset.items.columns else None)
        self.popularity = np.asarray(dataset.item_popularity, dtype=np.float64)
        self.groups: dict[tuple[str, float], np.ndarray] = {}


_CATALOGUES: "weakref.WeakKeyDictionary[Dataset, _CatalogueArrays]" = weakref.WeakKeyDictionary()


def _catalogue(dataset: Dataset) -> _CatalogueArrays:
    arrays = _CATALOGUES.get(dataset)
    if arrays is None:
        arrays = _CATALOGUES[dataset] = _CatalogueArrays(dataset)
    return arrays


def group_mask(dataset: Dataset, group: str, head_share: float = 0.2) -> np.ndarray:
    """Bool (n_items,) membership of "long-tail" or of a genre given by name (read-only)."""
    cache = _catalogue(dataset).groups
    key = (group, float(head_share))
    if key not in cache:
        if group == LONG_TAIL:
            mask = long_tail_mask(dataset.item_popularity, head_share)
        else:
            mask = dataset.item_genres[:, _genre_columns(dataset, [group])[0]].copy()
        mask.flags.writeable = False
        cache[key] = mask
    return cache[key]


def _genre_columns(dataset: Dataset, genres) -> list[int]:
    lookup = {g.lower(): i for i, g in enumerate(dataset.genre_names)}
    out = []
    for g in genres:
        if g.lower() not in lookup:
            raise HyperparameterError(f"unknown genre {g!r}; the dataset has "
                                      + ", ".join(dataset.genre_names))
        out.append(lookup[g.lower()])
    return out


def _user_row(dataset: Dataset, user: int | None) -> tuple[np.ndarray, np.ndarray]:
    if user is None:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    r = dataset.ratings
    lo, hi = r.indptr[user], r.indptr[user + 1]
    return r.indices[lo:hi], r.data[lo:hi]


def _member(items: np.ndarray, members: np.ndarray, n_items: int) -> np.ndarray:
    """Bool (len(items),): which items are among ``members`` (a lookup table beats np.isin)."""
    table = np.zeros(n_items, dtype=bool)
    table[members] = True
    return table[items]


def _positions(order: np.ndarray) -> np.ndarray:
    """Position of each element in an ordering (inverse permutation)."""
    pos = np.empty(len(order), np.int64)
    pos[order] = np.arange(len(order))
    return pos


def filter_reasons(items, config: RerankConfig, dataset: Dataset, user: int | None = None
                   ) -> tuple[np.ndarray, dict[str, int]]:
    """Which filter of ``config`` removes each item, if any (stage 1 of :func:`rerank`).

    Returns
    -------
    reasons : ndarray of int8, shape (n,)
        Index in :data:`FILTERS` of the first filter removing the item, -1 when it passes.
    filtered : dict of str -> int
        Items removed by each filter that ran, each counted once under the first filter
        removing it.
    """
    items = np.asarray(items, dtype=np.int64)
    reasons = np.full(len(items), -1, dtype=np.int8)
    filtered = {}

    def remove(name: str, hit: np.ndarray) -> None:
        new = hit & (reasons < 0)
        filtered[name] = int(new.sum())
        reasons[new] = FILTERS.index(name)

    seen_items, seen_ratings = _user_row(dataset, user)
    if config.hide_seen and seen_items.size:
        remove("seen", _member(items, seen_items, dataset.n_items))
    if config.hide_disliked is not None and not dataset.is_explicit:
        raise HyperparameterError("hiding disliked items needs explicit ratings; this dataset "
                                  "only records interactions")
    if config.hide_disliked is not None and seen_items.size:
        remove("disliked", _member(items, seen_items[seen_ratings <= config.hide_disliked],
                                   dataset.n_items))
    if config.exclude_genres:
        columns = _genre_columns(dataset, config.exclude_genres)
        remove("genre", dataset.item_genres[items][:, columns].any(axis=1))
    if config.min_ratings > 0:
        remove("min_ratings", _catalogue(dataset).popularity[items] < config.min_ratings)
    return reasons, filtered


def passes_filters(items, config: RerankConfig, dataset: Dataset, user: int | None = None
                   ) -> tuple[np.ndarray, dict[str, int]]:
    """Which items survive the filters of ``config`` (stage 1 of :func:`rerank`).

    Parameters
    ----------
    items : array of int, shape (n,)
    config : RerankConfig
    dataset : Dataset
    user : int, optional
        Without a user only the catalogue filters apply (genres, minimum ratings).

    Returns
    -------
    keep : ndarray of bool, shape (n,)
    filtered : dict of str -> int
        Items removed by each filter, each counted once under the first filter removing it.
    """
    reasons, filtered = filter_reasons(items, config, dataset, user)
    return reasons < 0, filtered


def rerank(items, scores, config: RerankConfig | None = None, *, dataset: Dataset,
           user: int | None = None, k: int = 10, item_embeddings: np.ndarray | None = None,
           base_rank=None) -> RerankResult:
    """Re-rank one user's candidates.

    Parameters
    ----------
    items : array of int, shape (n,)
        Candidate item indices (distinct).
    scores : array of float, shape (n,)
        Their base scores, larger = better (a model's scores or a scorer's probabilities).
    config : RerankConfig
    dataset : Dataset
        Supplies the user's ratings (for the seen/disliked filters), genres, release years and
        popularity (use the training set).
    user : int, optional
        The user's index; needed by the seen and disliked filters.
    k : int
        Length of the list.
    item_embeddings : ndarray (n_items, d), optional
        Needed when ``config.diversity_similarity == "embedding"``.
    base_rank : array of int, shape (n,), optional
        Each candidate's 1-based rank by base score when the candidates are part of a longer
        ranking (the catalogue: items a fairness group's own retrieval added from below the
        pool rank far lower than the pool's end). Default: their rank among the candidates.

    Returns
    -------
    RerankResult
    """
    config = config or RerankConfig()
    check_param("k", k, low=0, integer=True)
    items = np.asarray(items, dtype=np.int64).ravel()
    base = np.asarray(scores, dtype=np.float64).ravel()
    if items.shape != base.shape:
        raise ValueError(f"{len(items)} items but {len(base)} scores")
    if len(np.unique(items)) != len(items):
        raise ValueError("candidate items must be distinct")
    if items.size and (items.min() < 0 or items.max() >= dataset.n_items):
        raise IndexError(f"candidate item index out of range for {dataset.n_items} items")
    if base_rank is None:
        original_rank = np.empty(len(items), np.int64)
        original_rank[np.lexsort((np.arange(len(items)), -base))] = np.arange(1, len(items) + 1)
    else:
        original_rank = np.asarray(base_rank, dtype=np.int64).ravel()
        if original_rank.shape != items.shape:
            raise ValueError(f"{len(items)} items but {len(original_rank)} base ranks")

    # 1. filters
    reasons, filtered = filter_reasons(items, config, dataset, user)
    keep = reasons < 0
    # Rank of every removed candidate, by filter: an item moves up past those above it.
    removed_ranks = {f: np.sort(original_rank[reasons == i]) for i, f in enumerate(FILTERS)
                     if (reasons == i).any()}
    catalogue = _catalogue(dataset)
    popularity = catalogue.popularity
    items, base, original_rank = items[keep], base[keep], original_rank[keep]
    n = len(items)

    # 2. score transforms
    if n:
        span = base.max() - base.min()
        floor = 0.01 * span if span > 0 else 1.0
        relevance = (base - base.min() + floor) / (span + floor)
    else:
        relevance = base.copy()
    freshness = np.ones(n)
    if config.freshness_half_life is not None and n:
        now = config.reference_year if config.reference_year is not None else catalogue.newest_year
        age = np.maximum(now - catalogue.years[items], 0.0)
        freshness = 0.5 ** (age / config.freshness_half_life)
    pop_penalty = np.ones(n)
    if config.popularity_penalty > 0 and n:
        pop_penalty = 1.0 / np.maximum(popularity[items], 1.0) ** config.popularity_penalty
    fresh_score = relevance * freshness
    final = fresh_score * pop_penalty

    slot = np.arange(n)
    by_base = np.lexsort((slot, -base))
    by_fresh = np.lexsort((slot, -fresh_score))
    by_final = np.lexsort((slot, -final))

    # 3. diversity (MMR + genre cap) picks the list in the final-score order
    genres = dataset.item_genres[items]
    picked, redundancy = _mmr(by_final, final, genres, config, item_embeddings, items, k)

    # 4. fairness swaps
    in_group = np.zeros(n, dtype=bool)
    group_share = reachable = None
    listed = picked.copy()
    if config.fair_group is not None:
        in_group = group_mask(dataset, config.fair_group, config.head_share)[items]
        listed, reachable = _fair_swaps(listed, final, in_group, config.fair_share)
        group_share = float(in_group[listed].mean()) if len(listed) else 0.0
    if len(listed) and len(redundancy) == len(picked):
        red_by_slot = dict(zip(picked.tolist(), redundancy.tolist()))
        redundancy = np.array([red_by_slot.get(s, np.nan) for s in listed.tolist()])

    # moved_by: compare positions stage by stage
    pos_base, pos_fresh, pos_final = _positions(by_base), _positions(by_fresh), _positions(by_final)
    pos_picked = np.full(n, n + 1, np.int64)
    pos_picked[picked] = np.arange(len(picked))
    stage_pos = [pos_base[listed], pos_fresh[listed], pos_final[listed], pos_picked[listed],
                 np.arange(len(listed))]
    moved = np.zeros((len(listed), len(STAGES)), dtype=bool)
    for s in range(len(STAGES)):
        moved[:, s] = stage_pos[s + 1] != stage_pos[s]
    # After MMR and fairness only the list positions exist: "fairness" marks an insertion
    # only; an item already picked whose place changed around the swaps says "group swaps".
    inserted = pos_picked[listed] > len(picked)
    swapped_around = moved[:, 3] & ~inserted
    moved[:, 3] = inserted
    moved[:, 2] = (pos_picked[listed] != pos_final[listed]) & ~inserted
    # Candidates a filter removed from above an item moved it up (not an inserted item: its
    # place is the fairness rule's).
    above = {f: np.searchsorted(ranks, original_rank[listed]) * ~inserted
             for f, ranks in removed_ranks.items()}
    names = np.asarray(STAGES, dtype=object)
    moved_by = []
    for row in range(len(listed)):
        causes = [f"{f} filter" for f in FILTERS if f in above and above[f][row] > 0]
        causes += list(names[moved[row]])
        if swapped_around[row]:
            causes.append(GROUP_SWAPS)
        moved_by.append("+".join(causes) or "none")

    table = {
        "item": items[listed],
        "rank": np.arange(1, len(listed) + 1),
    }
    if catalogue.titles is not None:
        table["title"] = catalogue.titles[items[listed]]
    table.update({
        "base_score": base[listed],
        "relevance": relevance[listed],
        "freshness": freshness[listed],
        "popularity_penalty": pop_penalty[listed],
        "final_score": final[listed],
        "redundancy": (redundancy if len(redundancy) == len(listed)
                       else np.full(len(listed), np.nan)),
        "in_group": in_group[listed],
        "original_rank": original_rank[listed],
        "moved_by": moved_by,
    })
    table["why"] = _why(table, config, inserted, above, base, catalogue, popularity[items[listed]],
                        now=(config.reference_year if config.reference_year is not None
                             else catalogue.newest_year))
    return RerankResult(columns=table, filtered=filtered, group_share=group_share,
                        group_target=config.fair_share if config.fair_group else None,
                        group_target_reachable=reachable)


def _places(shift: int) -> str:
    """"up 3 places", "down 1 place", "at its rank"."""
    if shift == 0:
        return "at its rank"
    return f"{'up' if shift > 0 else 'down'} {abs(shift)} place{'s' if abs(shift) != 1 else ''}"


def _filter_phrase(name: str, config: RerankConfig) -> str:
    """A filter in words, with its setting."""
    if name == "genre":
        return f"the genre filter (excluded: {', '.join(config.exclude_genres)})"
    if name == "min_ratings":
        return f"the minimum-ratings filter (fewer than {config.min_ratings} ratings)"
    if name == "disliked":
        return f"the disliked filter (rated at most {config.hide_disliked:g})"
    return "the seen filter (items already rated)"


def _why(table: dict, config: RerankConfig, inserted: np.ndarray, above: dict,
         candidate_base: np.ndarray, catalogue: _CatalogueArrays, n_ratings: np.ndarray,
         now: float) -> list[str]:
    """One sentence per listed item saying why it moved ("" when it did not).

    An item fairness inserted: "promoted for the <group> group: up N places (rank R by base
    score); its final score F is low because <its factors below 1>", the factors being its
    relevance (its base score against the best candidate's, min-max scaled over the
    candidates), its freshness and its popularity multiplier. Other moves name the filters
    that removed candidates above the item and the multipliers or diversity that moved it.
    """
    n_candidates = len(candidate_base)
    best = float(candidate_base.max()) if n_candidates else float("nan")
    out = []
    for row in range(len(table["rank"])):
        shift = int(table["original_rank"][row]) - int(table["rank"][row])
        base, relevance = float(table["base_score"][row]), float(table["relevance"][row])
        fresh, penalty = float(table["freshness"][row]), float(table["popularity_penalty"][row])
        item = int(table["item"][row])
        if inserted[row]:
            reasons = []
            if relevance < 0.995:
                reasons.append(
                    f"its base score {base:.3g} is {'far ' if relevance < 0.5 else ''}below "
                    f"the best candidate's {best:.3g} (relevance {relevance:.2f} when the "
                    f"{n_candidates} candidates' base scores are scaled to 0..1)")
            if fresh < 0.995:
                age = max(now - float(catalogue.years[item]), 0.0)
                reasons.append(f"it was released {age:.0f} years before {now:.0f} "
                               f"(freshness ×{fresh:.2f})")
            if penalty < 0.995:
                reasons.append(f"its {int(n_ratings[row])} ratings bring a popularity "
                               f"penalty ×{penalty:.2f}")
            why = (f"promoted for the {config.fair_group} group (at least "
                   f"{config.fair_share:.0%} of the list): {_places(shift)} (rank "
                   f"{int(table['original_rank'][row])} by base score)")
            if reasons:
                why += (f"; its final score {float(table['final_score'][row]):.2f} is low "
                        f"because " + " and ".join(reasons))
            out.append(why)
            continue
        moved_by = table["moved_by"][row]
        if moved_by == "none":
            out.append("")
            continue
        parts = []
        for name in FILTERS:
            count = int(above[name][row]) if name in above else 0
            if count:
                parts.append(f"{count} candidate{'s' if count != 1 else ''} ranked above it "
                             f"removed by {_filter_phrase(name, config)}")
        stages = moved_by.split("+")
        if "freshness" in stages:
            parts.append(f"freshness ×{fresh:.2f}")
        if "popularity_penalty" in stages:
            parts.append(f"popularity penalty ×{penalty:.2f} ({int(n_ratings[row])} ratings)")
        if "diversity" in stages:
            redundancy = float(table["redundancy"][row])
            parts.append("diversity" + (f" (similarity {redundancy:.2f} to the items above it)"
                                        if np.isfinite(redundancy) else " (genre cap)"))
        if GROUP_SWAPS in stages:
            parts.append(f"fairness swapped items around it for the {config.fair_group} group")
        out.append(f"{_places(shift)}: " + "; ".join(parts))
    return out


def _mmr(order: np.ndarray, final: np.ndarray, genres: np.ndarray, config: RerankConfig,
         item_embeddings, items: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy MMR selection of up to k candidate slots; also the redundancy of each pick."""
    n = len(order)
    k = min(k, n)
    lam = config.diversity
    cap = config.max_per_genre
    if lam >= 1.0 and cap is None:
        return order[:k].copy(), np.full(k, np.nan)
    if config.diversity_similarity == "embedding":
        if item_embeddings is None:
            raise HyperparameterError("embedding diversity needs item embeddings")
        vectors = np.asarray(item_embeddings, dtype=np.float64)[items]
    else:
        vectors = genres.astype(np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    # Work in the final-score order so ties in the MMR value go to the better-scored item.
    unit, g = unit[order], genres[order].astype(np.int64)
    rel = final[order] / final.max() if n and final.max() > 0 else final[order]
    max_sim = np.zeros(n)
    genre_count = np.zeros(genres.shape[1], np.int64)
    allowed = np.ones(n, dtype=bool)
    picked, redundancy = [], []
    for _ in range(k):
        value = lam * rel - (1.0 - lam) * max_sim
        value[~allowed] = -np.inf
        best = int(np.argmax(value))
        if not allowed[best]:
            break
        picked.append(best)
        redundancy.append(max_sim[best])
        allowed[best] = False
        if cap is not None:
            genre_count += g[best]
            for full in np.flatnonzero((genre_count >= cap) & (g[best] > 0)):
                allowed &= g[:, full] == 0  # the cap of this genre is reached
        if lam < 1.0:
            np.maximum(max_sim, unit @ unit[best], out=max_sim)
    return order[np.asarray(picked, dtype=np.int64)], np.asarray(redundancy)


def _fair_swaps(listed: np.ndarray, final: np.ndarray, in_group: np.ndarray, share: float
                ) -> tuple[np.ndarray, bool]:
    """Replace the weakest non-group items of the list by the strongest group items outside it
    until the group's share reaches ``share``; returns the list and whether it was reachable.

    The items brought in are placed by final score, not into the freed slots (the weakest slot
    would get the strongest newcomer): each goes just above the first remaining item it
    outscores, so they keep their score order and, when the list was in score order (no MMR),
    it still is."""
    listed = listed.copy()
    if len(listed) == 0 or share <= 0:
        return listed, True
    needed = int(math.ceil(share * len(listed) - 1e-9)) - int(in_group[listed].sum())
    if needed <= 0:
        return listed, True
    outside = np.setdiff1d(np.flatnonzero(in_group), listed)
    outside = outside[np.lexsort((outside, -final[outside]))]
    inside = np.flatnonzero(~in_group[listed])  # positions in the list
    inside = inside[np.lexsort((-inside, final[listed[inside]]))]
    n_swaps = min(needed, len(outside), len(inside))
    kept = np.delete(listed, inside[:n_swaps])
    added = outside[:n_swaps]  # best first
    if len(kept) == 0:
        return added, n_swaps == needed
    # First kept item each newcomer outscores (ties stay below the kept item); non-decreasing
    # because the newcomers are sorted, so np.insert keeps them in order.
    beats = final[kept][:, None] < final[added][None, :]
    slot = np.where(beats.any(axis=0), beats.argmax(axis=0), len(kept))
    return np.insert(kept, slot, added), n_swaps == needed
