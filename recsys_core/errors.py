"""Exceptions raised by the engine.

Every error a user can cause derives from :class:`RecsysError`, so the app and the command line can
catch one class and show its message; programming errors stay ordinary Python exceptions.
"""
from __future__ import annotations

from pathlib import Path


class RecsysError(Exception):
    """Base class of every error the engine reports to a user."""


class DataError(RecsysError, ValueError):
    """A data file or table is malformed.

    Attributes
    ----------
    path : str or None
        The file at fault, when there is one.
    line : int or None
        1-based line number in that file (header included), when known.
    column : str or None
        The column at fault, when known.
    """

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 column: str | None = None):
        self.reason = message
        self.path = None if path is None else str(path)
        self.line = line
        self.column = column
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path + (f":{self.line}" if self.line is not None else ""))
        elif self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return (", ".join(where) + ": " if where else "") + self.reason


class UnknownIdError(RecsysError, KeyError):
    """A raw user or item id that the dataset does not contain."""

    def __init__(self, kind: str, raw_id, hint: str = ""):
        self.kind = kind
        self.raw_id = raw_id
        super().__init__(f"unknown {kind} id {raw_id!r}" + (f" ({hint})" if hint else ""))

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class DownloadError(RecsysError):
    """A dataset could not be downloaded or failed verification."""


class HyperparameterError(RecsysError, ValueError):
    """A model or pipeline was configured with an invalid value."""


class ScoresNotRatingsError(RecsysError, ValueError):
    """Rating estimates (predicted ratings, RMSE, MAE) were asked of a model whose scores rank
    items but are not rating estimates (``Recommender.predicts_ratings`` is False)."""


class MemoryBudgetError(RecsysError, MemoryError):
    """A fit would need more memory than the budget allows (see :mod:`recsys_core.memory`); it is
    refused before anything large is allocated.

    Attributes
    ----------
    estimate, budget : int
        Estimated peak bytes of the refused work, and the budget in bytes.
    """

    def __init__(self, message: str, *, estimate: int, budget: int):
        self.estimate = int(estimate)
        self.budget = int(budget)
        super().__init__(message)


class NotFittedError(RecsysError, AttributeError):
    """A model was used before `fit` was called."""


class EngineUnavailableError(RecsysError):
    """An optional training engine (Spark) cannot run here; the message says what to install."""


class PersistenceError(RecsysError):
    """A saved model or run is corrupted, foreign, or would overwrite something."""


class DamagedFileError(PersistenceError):
    """A saved file (model.npz, ids.npz, run.json) is damaged: unreadable, truncated, or holding
    arrays or values whose shape, dtype or type contradicts its metadata."""


class RunNotFoundError(PersistenceError):
    """A run named by the user does not exist (never saved, or deleted meanwhile)."""


class SweepBusyError(PersistenceError):
    """A sweep is already running (in another session or process); two runs of one sweep would
    train the same trial numbers twice and overwrite each other's records."""


class InvalidRunNameError(PersistenceError, ValueError):
    """A run name that cannot be a folder name in the run store."""


class SplitMismatchError(HyperparameterError):
    """Two runs cannot be compared user by user: one was trained on all its data (no held-out
    users to score), or they were trained on different datasets or train/test splits.

    Attributes
    ----------
    reason : str
        What differs, in words (also the message).
    """

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)
