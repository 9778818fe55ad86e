"""Recommender models sharing the interface of :class:`~recsys_core.models.base.Recommender`.

Importing this package registers every model in ``MODEL_REGISTRY`` by its ``kind``. Sub-packages
group the models that share machinery: :mod:`.mf` (matrix factorization by SGD), :mod:`.als`
(weighted alternating least squares) and :mod:`.neural` (softmax and two-tower networks).
"""
# In this order (by model name, as before the sub-packages): it is the order of MODEL_REGISTRY,
# hence of the training menus.
from .base import MODEL_REGISTRY, ProgressCallback, Recommender, TrainingProgress, trainable_models
from .content import ContentBased
from .ease import EASE
from .knn import ItemKNN
from .mf.model import MatrixFactorization
from .popularity import Popularity
from .precomputed import PrecomputedEmbeddings
from .neural.softmax import SoftmaxModel
from .svd import SVDModel
from .neural.two_tower import TwoTowerModel
from .als.wals import WALS

__all__ = ["MODEL_REGISTRY", "ProgressCallback", "Recommender", "TrainingProgress",
           "trainable_models", "ContentBased", "Popularity", "WALS", "EASE", "ItemKNN",
           "SoftmaxModel", "TwoTowerModel", "MatrixFactorization", "SVDModel",
           "PrecomputedEmbeddings"]
