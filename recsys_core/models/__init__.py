"""Recommender models sharing the interface of :class:`~recsys_core.models.base.Recommender`.

Importing this package registers every model in ``MODEL_REGISTRY`` by its ``kind``.
"""
from .base import (MODEL_REGISTRY, ProgressCallback, Recommender, TrainingProgress,
                   trainable_models)
from .content import ContentBased
from .ease import EASE
from .mf import MatrixFactorization
from .popularity import Popularity
from .precomputed import PrecomputedEmbeddings
from .softmax import SoftmaxModel
from .svd import SVDModel
from .two_tower import TwoTowerModel
from .wals import WALS

__all__ = ["MODEL_REGISTRY", "ProgressCallback", "Recommender", "TrainingProgress",
           "trainable_models", "ContentBased", "Popularity", "WALS", "EASE", "SoftmaxModel",
           "TwoTowerModel", "MatrixFactorization", "SVDModel", "PrecomputedEmbeddings"]
