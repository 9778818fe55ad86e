"""The engine's version, written into every saved file (foundation: imports nothing)."""
__version__ = "0.1.0"
