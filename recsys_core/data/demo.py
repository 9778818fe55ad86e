"""A generated movie catalogue with known structure, so every feature works offline.

:func:`make_demo_dataset` plants taste clusters: each cluster favours a few genres, every item
belongs to one cluster (mostly carrying its genres) and every user to one cluster. Users pick
items with probability proportional to a Zipf popularity times a boost for their own cluster, and
rate their own cluster's items higher. A model that recovers the clusters therefore both ranks and
predicts better than popularity alone, which tests and the app can show.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import HyperparameterError
from .dataset import Dataset, LoadReport

#: MovieLens 100K genre labels (without "unknown").
DEMO_GENRES = ("Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
               "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
               "Sci-Fi", "Thriller", "War", "Western")
OCCUPATIONS = ("administrator", "artist", "doctor", "educator", "engineer", "entertainment",
               "executive", "healthcare", "homemaker", "lawyer", "librarian", "marketing",
               "none", "other", "programmer", "retired", "salesman", "scientist", "student",
               "technician", "writer")
_ADJECTIVES = ("Silent", "Crimson", "Last", "Hidden", "Broken", "Golden", "Midnight", "Frozen",
               "Electric", "Lonely", "Savage", "Endless", "Secret", "Burning", "Wild", "Distant",
               "Iron", "Velvet", "Hollow", "Bright", "Restless", "Fallen", "Little", "Stolen",
               "Paper", "Glass", "Northern", "Forgotten", "Wicked", "Quiet", "Lucky", "Dark")
_NOUNS = ("Harbor", "Kingdom", "Promise", "River", "Witness", "Garden", "Empire", "Stranger",
          "Summer", "Machine", "Mountain", "Letter", "Island", "Detective", "Frontier", "Dream",
          "Station", "Orchard", "Signal", "Voyage", "Circus", "Shadow", "Winter", "Lantern",
          "Engine", "Bridge", "Desert", "Carnival", "Horizon", "Compass", "Castle", "Storm",
          "Tide", "Ghost", "Season", "Highway", "Planet", "Crown", "Valley", "Mirror")
_PATTERNS = ("The {a} {n}", "{a} {n}", "The {n} of the {a} {m}", "{n} and {m}", "A {a} {n}",
             "Return to the {a} {n}", "The {n}'s {m}", "Beyond the {n}")
_SEQUELS = ("II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")
_EPOCH_START = 946_684_800  # 2000-01-01, seconds since 1970
_SECONDS_PER_DAY = 86_400


def make_demo_dataset(seed: int = 0, n_users: int = 3000, n_items: int = 1500, *,
                      n_clusters: int = 8, mean_ratings_per_user: float = 30.0,
                      min_ratings_per_user: int = 5, popularity_exponent: float = 0.9,
                      cluster_boost: float = 6.0, cluster_rating_bonus: float = 1.3,
                      noise: float = 0.6) -> Dataset:
    """Generate a movie catalogue with planted taste clusters; same seed, same dataset.

    Parameters
    ----------
    seed : int
        Seed of every random draw (NumPy PCG64).
    n_users, n_items : int
        Sizes; n_items must be at least ``n_clusters``.
    n_clusters : int
        Number of taste clusters (each favours 2-3 genres).
    mean_ratings_per_user : float
        Mean of the (log-normal) number of ratings per user, capped at ``n_items``.
    min_ratings_per_user : int
    popularity_exponent : float
        Zipf exponent of the item popularity weights (weight of the r-th most popular item is
        r ** -exponent): larger gives a heavier head.
    cluster_boost : float
        How many times likelier a user picks an item of their own cluster.
    cluster_rating_bonus : float
        Stars added (before rounding) when user and item share a cluster.
    noise : float
        Standard deviation of the rating noise, in stars.

    Returns
    -------
    Dataset
        Explicit 1-5 ratings with timestamps (seconds, 2000-2003). ``items`` has ``title``
        ("The Silent Harbor (1994)"), ``year``, ``genres`` and ``cluster``; ``users`` has ``age``,
        ``gender``, ``occupation`` and ``cluster``. Raw ids are 1..n_users and 1..n_items.
        Generation takes well under a second at the default size.
    """
    if n_clusters < 1 or n_items < n_clusters or n_users < 1 or min_ratings_per_user < 1:
        raise HyperparameterError(
            f"need n_users >= 1, n_items >= n_clusters >= 1 and min_ratings_per_user >= 1 (got "
            f"n_users={n_users}, n_items={n_items}, n_clusters={n_clusters}, "
            f"min_ratings_per_user={min_ratings_per_user})")
    if cluster_boost <= 0 or noise < 0 or mean_ratings_per_user <= 0:
        raise HyperparameterError("cluster_boost and mean_ratings_per_user must be > 0 and "
                                  "noise >= 0")
    rng = np.random.default_rng(seed)
    n_genres = len(DEMO_GENRES)

    # Clusters: a few favourite genres each, drawn without replacement so clusters differ.
    cluster_genres = [rng.choice(n_genres, size=int(rng.integers(2, 4)), replace=False)
                      for _ in range(n_clusters)]

    # Items: cluster, genres (mostly the cluster's), year, popularity weight, quality.
    item_cluster = rng.integers(0, n_clusters, size=n_items)
    item_cluster[:n_clusters] = np.arange(n_clusters)  # every cluster has an item
    item_genres = np.zeros((n_items, n_genres), dtype=bool)
    for c in range(n_clusters):
        members = np.flatnonzero(item_cluster == c)
        favourites = cluster_genres[c]
        main = favourites[rng.integers(0, len(favourites), size=len(members))]
        item_genres[members, main] = True
        second = favourites[rng.integers(0, len(favourites), size=len(members))]
        item_genres[members, second] |= rng.random(len(members)) < 0.5
    stray = rng.random(n_items) < 0.3
    item_genres[np.flatnonzero(stray), rng.integers(0, n_genres, size=int(stray.sum()))] = True
    years = np.clip(2002 - np.floor(rng.exponential(14.0, size=n_items)), 1930, 2002)
    popularity_rank = rng.permutation(n_items) + 1
    log_popularity = -popularity_exponent * np.log(popularity_rank)
    item_quality = rng.normal(0.0, 0.35, size=n_items)

    # Users: cluster, demographics loosely tied to the cluster, bias, activity.
    user_cluster = rng.integers(0, n_clusters, size=n_users)
    cluster_age = rng.uniform(22, 50, size=n_clusters)
    ages = np.clip(np.round(rng.normal(cluster_age[user_cluster], 8.0)), 13, 75).astype(np.int64)
    cluster_female_share = rng.uniform(0.2, 0.8, size=n_clusters)
    gender = np.where(rng.random(n_users) < cluster_female_share[user_cluster], "F", "M")
    occupation = np.asarray(OCCUPATIONS, dtype=object)[rng.integers(0, len(OCCUPATIONS),
                                                                    size=n_users)]
    user_bias = rng.normal(0.0, 0.35, size=n_users)
    sigma = 0.8
    mu = np.log(mean_ratings_per_user) - sigma**2 / 2
    activity = np.clip(np.round(rng.lognormal(mu, sigma, size=n_users)), min_ratings_per_user,
                       n_items).astype(np.int64)

    # Who rates what: draws with replacement from p(item | user) ~ popularity * boost(same
    # cluster) by inverse CDF, then the first ``activity`` distinct items of each user (cheaper
    # than sampling without replacement, and the same distribution up to the first repeats).
    weights = np.exp(log_popularity)[None, :] * np.where(
        item_cluster[None, :] == np.arange(n_clusters)[:, None], cluster_boost, 1.0)
    cdf = np.cumsum(weights, axis=1)
    cdf /= cdf[:, -1:]
    n_draws = 2 * activity + 20
    rows = np.repeat(np.arange(n_users), n_draws)
    u = rng.random(len(rows))
    cols = np.empty(len(rows), dtype=np.int64)
    draw_cluster = user_cluster[rows]
    for c in range(n_clusters):
        mine = draw_cluster == c
        cols[mine] = np.searchsorted(cdf[c], u[mine], side="right")
    np.minimum(cols, n_items - 1, out=cols)
    _, first = np.unique(rows * n_items + cols, return_index=True)
    first.sort()  # draw order, so rows stay grouped by user
    rows, cols = rows[first], cols[first]
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
    taken = rank < activity[rows]
    rows, cols = rows[taken], cols[taken]

    # Ratings: a 3.4 baseline plus biases, the shared-cluster bonus and noise, rounded to stars.
    same = user_cluster[rows] == item_cluster[cols]
    raw = (3.4 + user_bias[rows] + item_quality[cols] + cluster_rating_bonus * same
           - 0.3 * ~same + rng.normal(0.0, noise, size=len(rows)))
    stars = np.clip(np.round(raw), 1, 5).astype(np.float32)

    # Timestamps: each user is active from a start day for a few weeks to months.
    start = _EPOCH_START + rng.integers(0, 3 * 365, size=n_users) * _SECONDS_PER_DAY
    span = rng.exponential(60.0, size=n_users) * _SECONDS_PER_DAY
    timestamps = (start[rows] + rng.random(len(rows)) * span[rows]).astype(np.int64)

    titles = _titles(rng, n_items, years)
    genre_labels = np.asarray(DEMO_GENRES, dtype=object)
    items = pd.DataFrame({"title": titles, "year": years.astype(float),
                          "cluster": item_cluster.astype(np.int64),
                          "cluster_genres": ["|".join(genre_labels[np.sort(cluster_genres[c])])
                                             for c in item_cluster]})
    users = pd.DataFrame({"age": ages, "gender": gender.astype(object), "occupation": occupation,
                          "cluster": user_cluster.astype(np.int64)})
    report = LoadReport(rows_read=len(rows), notes=(
        f"generated: {n_clusters} taste clusters, Zipf popularity exponent "
        f"{popularity_exponent:g}, seed {seed}",))
    return Dataset.from_interactions(
        rows + 1, cols + 1, stars, timestamps, user_ids=np.arange(1, n_users + 1),
        item_ids=np.arange(1, n_items + 1), item_table=items, genre_names=DEMO_GENRES,
        item_genres=item_genres, user_table=users, rating_scale=(1.0, 5.0),
        name="demo catalogue",
        source=f"generated:seed={seed},n_users={n_users},n_items={n_items},"
               f"n_clusters={n_clusters}",
        report=report)


def _titles(rng: np.random.Generator, n: int, years: np.ndarray) -> list[str]:
    """``n`` distinct readable titles with their year, e.g. "The Silent Harbor (1994)".

    Base titles come from word patterns; a repeated base becomes a sequel ("... II").
    """
    a = rng.integers(0, len(_ADJECTIVES), size=n)
    b = rng.integers(0, len(_NOUNS), size=n)
    c = (b + 1 + rng.integers(0, len(_NOUNS) - 1, size=n)) % len(_NOUNS)  # differs from b
    p = rng.integers(0, len(_PATTERNS), size=n)
    counts: dict[str, int] = {}
    titles = []
    for i in range(n):
        base = _PATTERNS[p[i]].format(a=_ADJECTIVES[a[i]], n=_NOUNS[b[i]], m=_NOUNS[c[i]])
        seen = counts.get(base, 0)
        counts[base] = seen + 1
        if seen:
            suffix = _SEQUELS[seen - 1] if seen <= len(_SEQUELS) else f"Part {seen + 1}"
            base = f"{base} {suffix}"
        titles.append(f"{base} ({int(years[i])})")
    return titles
