"""A small generated catalogue used only until recsys_core.demo is available."""
from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_core.dataset import Dataset

GENRES = ("Action", "Comedy", "Drama", "Romance", "Sci-Fi", "Thriller")


def make_demo_dataset(seed: int = 0, n_users: int = 300, n_items: int = 200) -> Dataset:
    rng = np.random.default_rng(seed)
    item_genres = rng.random((n_items, len(GENRES))) < 0.25
    item_genres[np.arange(n_items), rng.integers(0, len(GENRES), n_items)] = True
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.8
    users, items, values = [], [], []
    for u in range(n_users):
        n = int(rng.integers(5, 40))
        chosen = rng.choice(n_items, size=n, replace=False, p=pop / pop.sum())
        users += [u + 1] * n
        items += (chosen + 1).tolist()
        values += rng.integers(1, 6, n).tolist()
    table = pd.DataFrame({"title": [f"Film {i + 1}" for i in range(n_items)],
                          "year": rng.integers(1950, 2020, n_items).astype(float)})
    occ = pd.DataFrame({"age": rng.integers(18, 70, n_users),
                        "gender": rng.choice(["F", "M"], n_users),
                        "occupation": rng.choice(["student", "engineer", "artist"], n_users)})
    ts = 880_000_000 + rng.integers(0, 10**7, len(users))
    return Dataset.from_interactions(np.array(users), np.array(items), np.array(values), ts,
                                     user_ids=np.arange(1, n_users + 1),
                                     item_ids=np.arange(1, n_items + 1), item_table=table,
                                     genre_names=GENRES, item_genres=item_genres, user_table=occ,
                                     rating_scale=(1.0, 5.0), name="demo catalogue",
                                     source=f"generated:seed={seed}")
