"""recsys-studio engine: data, splits, models, similarity, retrieval, ranking, re-ranking, metrics.

No Streamlit in here: everything is usable from a notebook or a script. The package is layered;
a module imports only from its own layer or the ones before it:

    errors, validation, persistence, threads, memory, version   (foundation)
    -> data -> retrieval -> models -> evaluation -> serving -> runs -> cli

The names a notebook needs are importable from here directly (``from recsys_core import WALS``);
each is imported on first use, so ``import recsys_core`` stays cheap (no numba, no models).
"""
from __future__ import annotations

import importlib

from .version import __version__

#: The Engine API: public name -> the module that defines it.
_API = {
    # data
    "Dataset": "recsys_core.data.dataset",
    "load_dataset": "recsys_core.data.discovery",
    "find_datasets": "recsys_core.data.discovery",
    "default_dataset": "recsys_core.data.discovery",
    "load_movielens_100k": "recsys_core.data.movielens",
    "load_ratings_csv": "recsys_core.data.ratings_csv",
    "make_demo_dataset": "recsys_core.data.demo",
    "download_movielens": "recsys_core.data.download",
    # models
    "MODEL_REGISTRY": "recsys_core.models",
    "Recommender": "recsys_core.models",
    "ContentBased": "recsys_core.models",
    "EASE": "recsys_core.models",
    "ItemKNN": "recsys_core.models",
    "MatrixFactorization": "recsys_core.models",
    "Popularity": "recsys_core.models",
    "PrecomputedEmbeddings": "recsys_core.models",
    "SoftmaxModel": "recsys_core.models",
    "SVDModel": "recsys_core.models",
    "TwoTowerModel": "recsys_core.models",
    "WALS": "recsys_core.models",
    # evaluation
    "holdout_split": "recsys_core.evaluation.split",
    "leave_last_k_out": "recsys_core.evaluation.split",
    "predefined_split": "recsys_core.evaluation.split",
    "temporal_split": "recsys_core.evaluation.split",
    "evaluate_model": "recsys_core.evaluation.metrics",
    "Validation": "recsys_core.evaluation.metrics",
    # serving
    "RerankConfig": "recsys_core.serving.rerank",
    "recommend_for_run": "recsys_core.serving.pipeline",
    # runs
    "RunStore": "recsys_core.runs.store",
    "load_run": "recsys_core.runs.store",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'recsys_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_API))
