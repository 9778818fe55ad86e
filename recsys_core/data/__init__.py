"""Datasets: the :class:`Dataset` container, loaders for MovieLens and ratings CSVs, the demo
catalogue, the MovieLens download and the search for datasets already on disk.

The modules, from the bottom up: :mod:`.dataset` (``Dataset``, ``LoadReport``), :mod:`.readers`
(one validating text reader and the column parsers), :mod:`.movielens` and :mod:`.ratings_csv`
(the loaders), :mod:`.demo` (a generated catalogue), :mod:`.cache` (the binary cache that makes a
second load of unchanged big files a read of arrays), :mod:`.discovery` (format detection,
``load_dataset`` and the default dataset) and :mod:`.download`.
"""
from .dataset import Dataset, LoadReport, as_interaction_matrix
from .demo import make_demo_dataset
from .discovery import DATA_DIR_ENV, default_dataset, detect_format, find_datasets, load_dataset
from .movielens import load_movielens_100k, load_movielens_dat, load_movielens_latest
from .ratings_csv import load_ratings_csv

__all__ = ["Dataset", "LoadReport", "as_interaction_matrix", "make_demo_dataset", "DATA_DIR_ENV",
           "default_dataset", "detect_format", "find_datasets", "load_dataset",
           "load_movielens_100k", "load_movielens_dat", "load_movielens_latest",
           "load_ratings_csv"]
