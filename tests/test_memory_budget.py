"""The memory budget of a fit: every model estimates its peak memory and refuses, before
allocating, a fit that would exceed the budget (issue 10, "Parameters" 6: ``factors=1000000000``
used to try to allocate terabytes, with a traceback in the CLI and on the Train page)."""
from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from recsys_core.cli import main
from recsys_core.errors import HyperparameterError, MemoryBudgetError, RecsysError
from recsys_core.memory import BUDGET_ENV, format_bytes, memory_budget, parse_size, total_memory
from recsys_core.models import MODEL_REGISTRY, Recommender
from tests.files import write_ratings_csv

REPO = Path(__file__).resolve().parent.parent
GIB = 1024 ** 3

#: The engine's models (other tests register stubs of their own in MODEL_REGISTRY).
ENGINE_KINDS = sorted(kind for kind, cls in MODEL_REGISTRY.items()
                      if cls.__module__.startswith("recsys_core."))

#: Small, quick settings per kind (the normal-fit and upper-bound checks).
QUICK = {
    "wals": dict(factors=16, iterations=2),
    "mf": dict(factors=16, epochs=2),
    "svd": dict(factors=8),
    "ease": dict(),
    "item_knn": dict(),
    "popularity": dict(),
    "content": dict(),
    "softmax": dict(factors=16, hidden_layers=(32,), epochs=2, patience=None),
    "two-tower": dict(factors=16, hidden_layers=(32,), epochs=2, patience=None),
}


def _model(kind: str, demo, **params) -> Recommender:
    if kind == "precomputed":
        rng = np.random.default_rng(0)
        d = params.pop("factors", 4)
        return MODEL_REGISTRY[kind](rng.normal(size=(demo.n_users, d)),
                                    rng.normal(size=(demo.n_items, d)), **params)
    return MODEL_REGISTRY[kind](**{**QUICK.get(kind, {}), **params})


def test_every_registered_model_has_its_own_estimate():
    assert set(QUICK) | {"precomputed"} == set(ENGINE_KINDS)
    for kind in ENGINE_KINDS:
        assert MODEL_REGISTRY[kind].estimate_fit_bytes is not Recommender.estimate_fit_bytes, kind


@pytest.mark.parametrize("kind", ["wals", "softmax", "two-tower"])
def test_a_billion_factors_is_refused_at_once_with_the_estimate(kind, demo):
    model = _model(kind, demo, factors=10 ** 9)
    start = time.perf_counter()
    with pytest.raises(MemoryBudgetError) as caught:
        model.fit(demo)
    assert time.perf_counter() - start < 1.0  # refused before allocating anything large
    message = str(caught.value)
    assert "factors (now 1000000000)" in message
    assert "batch_size" not in message  # only the changed size parameters are named
    assert format_bytes(caught.value.estimate) in message and "budget" in message
    assert caught.value.estimate > caught.value.budget
    assert "TiB" in message or "PiB" in message or "EiB" in message
    assert not hasattr(model, "item_embeddings_")


@pytest.mark.parametrize("kind", ["mf", "svd"])
def test_capped_factors_are_refused_too(kind, demo):
    with pytest.raises(HyperparameterError, match="factors"):
        _model(kind, demo, factors=10 ** 9).fit(demo)


@pytest.mark.parametrize("kind", ENGINE_KINDS)
def test_every_kind_refuses_a_fit_over_the_budget(kind, demo, monkeypatch):
    monkeypatch.setenv(BUDGET_ENV, "1KB")
    model = _model(kind, demo)
    start = time.perf_counter()
    with pytest.raises(MemoryBudgetError, match=r"more than the budget of 1\.00 KiB") as caught:
        model.fit(demo)
    assert time.perf_counter() - start < 1.0
    assert f"{demo.n_users:,} users x {demo.n_items:,} items" in str(caught.value)
    assert BUDGET_ENV in str(caught.value)
    assert isinstance(caught.value, RecsysError)


@pytest.mark.parametrize("kind", ENGINE_KINDS)
def test_a_normal_fit_is_unaffected_and_its_estimate_bounds_what_it_allocates(kind, demo):
    """The estimate errs on the high side: tracemalloc (which sees NumPy's allocations, not
    numba's) never measures more than it, at more factors than the defaults so the factor terms
    dominate."""
    sized = {"factors": 64} if kind in ("wals", "mf", "svd", "softmax", "two-tower",
                                        "precomputed") else {}
    model = _model(kind, demo, **sized)
    estimate = model.estimate_fit_bytes(demo.n_users, demo.n_items, demo.ratings.nnz)
    model.fit(demo)  # once untraced: compiling or loading numba kernels is not the fit's data
    tracemalloc.start()
    try:
        model.fit(demo)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert model.score([0]).shape == (1, demo.n_items)
    assert peak <= estimate, f"{kind}: measured {format_bytes(peak)} > estimated " \
                             f"{format_bytes(estimate)}"


def test_the_estimate_grows_with_factors_and_catalogue():
    wals = MODEL_REGISTRY["wals"]
    assert wals(factors=128).estimate_fit_bytes(1000, 2000, 50_000) > \
        wals(factors=64).estimate_fit_bytes(1000, 2000, 50_000)
    ease = MODEL_REGISTRY["ease"]()
    assert ease.estimate_fit_bytes(1000, 4000, 50_000) > 3.9 * ease.estimate_fit_bytes(
        1000, 2000, 50_000)  # n_items^2
    # MovieLens 100K with WALS's defaults: a few megabytes, far below any budget.
    assert wals().estimate_fit_bytes(943, 1682, 80_000) < 64 * 1024 ** 2


def test_budget_setting_accepts_bytes_units_fractions_and_percentages():
    total = 16 * GIB
    assert parse_size("3000000000", total) == 3_000_000_000
    assert parse_size("2GB", total) == 2 * GIB
    assert parse_size("512 MiB", total) == 512 * 1024 ** 2
    assert parse_size("1.5g", total) == int(1.5 * GIB)
    assert parse_size("0.25", total) == 4 * GIB
    assert parse_size("25%", total) == 4 * GIB
    for bad in ("lots", "-1GB", "0", "2 XB", ""):
        with pytest.raises(MemoryBudgetError, match=BUDGET_ENV):
            parse_size(bad, total)


def test_budget_defaults_to_half_the_memory_and_honours_the_variable(monkeypatch):
    monkeypatch.delenv(BUDGET_ENV, raising=False)
    budget, source = memory_budget()
    assert budget == total_memory() // 2 and BUDGET_ENV in source
    assert 0 < total_memory() < 2 ** 50
    monkeypatch.setenv(BUDGET_ENV, "3GB")
    assert memory_budget()[0] == 3 * GIB


def test_the_variable_lets_a_big_fit_through_or_stops_a_small_one(demo, monkeypatch):
    model = _model("wals", demo)
    estimate = model.estimate_fit_bytes(demo.n_users, demo.n_items, demo.ratings.nnz)
    monkeypatch.setenv(BUDGET_ENV, str(estimate - 1))
    with pytest.raises(MemoryBudgetError):
        model.fit(demo)
    monkeypatch.setenv(BUDGET_ENV, str(estimate))
    assert model.fit(demo).item_embeddings_.shape == (demo.n_items, 16)


def test_format_bytes_is_human():
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.50 KiB"
    assert format_bytes(6.86 * 1024 ** 4) == "6.86 TiB"
    assert format_bytes(123.4 * 1024 ** 2) == "123 MiB"
    assert format_bytes(1023 * 1024) == "1023 KiB"


# ---------------------------------------------------------------------------- command line
@pytest.fixture(scope="module")
def ratings_csv(tmp_path_factory, demo):
    return write_ratings_csv(demo, tmp_path_factory.mktemp("budget-cli"))


@pytest.mark.parametrize("kind", ["wals", "softmax"])
def test_cli_train_with_a_billion_factors_is_one_line_and_exit_2(kind, ratings_csv, tmp_path,
                                                                  capsys):
    code = main(["train", "--data", str(ratings_csv), "--model", kind, "--set",
                 "factors=1000000000", "--out", str(tmp_path / "run")])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("error: training ") and "factors (now 1000000000)" in err
    assert "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_cli_subprocess_has_no_traceback(ratings_csv, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "recsys_core", "train", "--data", str(ratings_csv), "--model",
         "wals", "--set", "factors=1000000000", "--out", str(tmp_path / "run")],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "memory" in result.stderr


# ---------------------------------------------------------------------------- Train page
def test_train_page_shows_the_refusal_as_a_message(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("RECSYS_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.query_params["data"] = "demo"
    at.query_params["model"] = "wals"
    at.run()
    at.switch_page("pages/2_Train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    # found by label, not key: the widget keys belong to the page's state model
    factors = next(n for n in at.number_input if n.label == "factors")
    factors.set_value(10 ** 9).run()
    at.button(key="train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert any("factors (now 1000000000)" in e and "budget" in e for e in errors), errors
    assert not list(tmp_path.iterdir())  # no run saved
