"""The demo catalogue: deterministic, well-formed, and with the structure it promises."""
from __future__ import annotations

import numpy as np
import pytest

from recsys_core.data.demo import DEMO_GENRES, make_demo_dataset
from recsys_core.errors import HyperparameterError


def test_shapes_tables_and_scale(demo):
    assert (demo.n_users, demo.n_items) == (400, 300)
    assert demo.rating_scale == (1.0, 5.0)
    assert set(np.unique(demo.ratings.data)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert demo.genre_names == DEMO_GENRES
    assert demo.item_genres.any(axis=1).all()  # every item has a genre
    assert {"title", "year", "genres", "cluster", "popularity"} <= set(demo.items.columns)
    assert list(demo.users.columns) == ["age", "gender", "occupation", "cluster"]
    assert demo.users["gender"].isin(["F", "M"]).all()
    assert demo.users["age"].between(13, 75).all()
    assert demo.timestamps.shape == (demo.n_ratings,) and demo.timestamps.min() >= 946_684_800
    assert demo.name == "demo catalogue"
    assert demo.source == "generated:seed=0,n_users=400,n_items=300,n_clusters=8"
    assert demo.report.rows_read == demo.n_ratings and demo.report.duplicates_merged == 0


def test_titles_are_unique_and_carry_the_year(demo):
    titles = demo.items["title"]
    assert titles.is_unique
    years = titles.str.extract(r"\((\d{4})\)$", expand=False).astype(float)
    assert (years.to_numpy() == demo.items["year"].to_numpy()).all()
    assert demo.items["year"].between(1930, 2002).all()


def test_every_user_rates_at_least_the_minimum(demo):
    assert demo.user_activity.min() >= 5


def test_users_rate_their_own_cluster_higher_and_more_often(demo):
    entries = demo.ratings.tocoo()
    user_cluster = demo.users["cluster"].to_numpy()[entries.row]
    item_cluster = demo.items["cluster"].to_numpy()[entries.col]
    same = user_cluster == item_cluster
    assert entries.data[same].mean() > entries.data[~same].mean() + 1.0
    n_clusters = demo.items["cluster"].nunique()
    share_by_chance = 1 / n_clusters
    assert same.mean() > 2 * share_by_chance  # clusters steer what people pick


def test_items_of_a_cluster_share_its_genres(demo):
    genres = demo.item_genres.astype(float)
    cluster = demo.items["cluster"].to_numpy()
    profiles = np.stack([genres[cluster == c].mean(axis=0) for c in np.unique(cluster)])
    # each cluster's top genre is far more common inside it than in the whole catalogue
    top = profiles.argmax(axis=1)
    assert (profiles[np.arange(len(top)), top] > 2 * genres.mean(axis=0)[top]).all()


def test_popularity_is_heavy_tailed(demo):
    popularity = np.sort(demo.item_popularity)[::-1]
    top_decile = popularity[: len(popularity) // 10].sum() / popularity.sum()
    assert top_decile > 0.3  # a uniform catalogue would give 0.1
    assert popularity[0] > 5 * np.median(popularity)


def test_same_seed_same_dataset_other_seed_other_dataset():
    a = make_demo_dataset(seed=3, n_users=200, n_items=150)
    b = make_demo_dataset(seed=3, n_users=200, n_items=150)
    c = make_demo_dataset(seed=4, n_users=200, n_items=150)
    assert a.fingerprint == b.fingerprint
    assert a.items["title"].tolist() == b.items["title"].tolist()
    assert a.users.equals(b.users)
    assert a.fingerprint != c.fingerprint


def test_default_size():
    ds = make_demo_dataset()
    assert (ds.n_users, ds.n_items) == (3000, 1500)
    assert 50_000 < ds.n_ratings < 150_000


@pytest.mark.parametrize("kwargs", [dict(n_items=3, n_clusters=8), dict(n_users=0),
                                    dict(cluster_boost=0), dict(noise=-1)])
def test_invalid_settings_are_refused(kwargs):
    with pytest.raises(HyperparameterError):
        make_demo_dataset(**kwargs)
