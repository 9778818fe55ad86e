"""Matrix factorization trained by SGD: the model (:mod:`.model`) and its numba loops."""
