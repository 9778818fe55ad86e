"""Files the tests write from a dataset, in the formats the loaders and the CLI read."""
from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_ratings_csv(dataset, folder: Path) -> Path:
    """``dataset``'s ratings as ``folder/ratings.csv`` (user,item,rating, by the original ids);
    returns the file's path."""
    coo = dataset.ratings.tocoo()
    path = Path(folder) / "ratings.csv"
    pd.DataFrame({"user": dataset.user_ids[coo.row], "item": dataset.item_ids[coo.col],
                  "rating": coo.data}).to_csv(path, index=False)
    return path
