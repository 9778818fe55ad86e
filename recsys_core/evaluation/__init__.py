"""Measuring models: train/test splits (:mod:`.split`), ranking and rating metrics
(:mod:`.metrics`), diagnostics of embeddings and similarity (:mod:`.diagnostics`) and 2-D maps of
embeddings (:mod:`.projection`)."""
