"""recsys-studio engine: data, splits, models, similarity, retrieval, ranking, re-ranking, metrics.

No Streamlit in here: everything is usable from a notebook or a script.
"""
__version__ = "0.1.0"
