"""Shared Streamlit helpers for the pages: page header, error display, URL-synced state,
dataset choice and cached loaders, run loading. The engine (``recsys_core``) never imports this."""
