"""Weighted alternating least squares: the model (:mod:`.wals`) and its numba kernels (:mod:`.kernels`)."""
