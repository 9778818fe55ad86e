"""Cold-start helpers shared by the embedding models.

The course's heuristic for a new item with no interactions: give it the average embedding of the
known items that share its genres, so it lands in the neighbourhood of similar content instead of
at the origin (where every dot product is zero and it can never be recommended).
"""
from __future__ import annotations

import numpy as np


def genre_average_embeddings(item_embeddings: np.ndarray, item_genres: np.ndarray,
                             known_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replace the embeddings of unknown items by the mean embedding of known items of their genres.

    An unknown item with several genres gets the mean over every known item that shares at least
    one of them, each such item counted once. An unknown item with no genre, or whose genres no
    known item has, falls back to the mean of all known items.

    Parameters
    ----------
    item_embeddings : ndarray, shape (n_items, d)
    item_genres : ndarray of bool, shape (n_items, n_genres)
        Multi-hot genre matrix.
    known_mask : ndarray of bool, shape (n_items,)
        True for items whose embedding was learned from interactions.

    Returns
    -------
    embeddings : ndarray of float32, shape (n_items, d)
        A copy; known items unchanged.
    imputed : ndarray of bool, shape (n_items,)
        True where the embedding was replaced (every unknown item when any item is known).
    """
    emb = np.array(item_embeddings, dtype=np.float32, copy=True)
    genres = np.asarray(item_genres, dtype=bool)
    known = np.asarray(known_mask, dtype=bool)
    if emb.ndim != 2 or genres.ndim != 2 or genres.shape[0] != emb.shape[0] \
            or known.shape != (emb.shape[0],):
        raise ValueError(f"shapes do not agree: embeddings {emb.shape}, genres {genres.shape}, "
                         f"known mask {known.shape}")
    unknown = np.flatnonzero(~known)
    imputed = np.zeros(emb.shape[0], dtype=bool)
    if unknown.size == 0 or not known.any():
        return emb, imputed
    known_genres = genres[known].astype(np.float32)          # (n_known, n_genres)
    known_emb = emb[known].astype(np.float64)
    fallback = known_emb.mean(axis=0)
    # Known items sharing a genre with each unknown item: (n_unknown, n_known) boolean product.
    shares = (genres[unknown].astype(np.float32) @ known_genres.T) > 0
    counts = shares.sum(axis=1)
    sums = shares.astype(np.float64) @ known_emb
    means = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], fallback[None, :])
    emb[unknown] = means.astype(np.float32)
    imputed[unknown] = True
    return emb, imputed
