"""Saved training runs: a model, the ids it was trained on and its description, in a folder of a
:class:`~recsys_core.runs.store.RunStore` (:mod:`.store`)."""
