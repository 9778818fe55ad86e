"""Hyperparameter search (layer above runs: it fits, evaluates and saves runs): :class:`Sweep`
over :class:`Dimension` ranges or lists, with grid, random or TPE (Optuna) strategies."""
from .space import (Dimension, default_dimension, default_dimensions, default_names,
                    parse_dimension, tunable_names)
from .sweep import DEFAULT_FOLDS, MAX_FOLDS, STRATEGIES, Sweep, Trial, parse_metric, saved_sweeps, sweep_folder

__all__ = ["DEFAULT_FOLDS", "Dimension", "MAX_FOLDS", "STRATEGIES", "Sweep", "Trial", "default_dimension", "default_dimensions",
           "default_names", "parse_dimension",
           "parse_metric", "saved_sweeps", "sweep_folder", "tunable_names"]
