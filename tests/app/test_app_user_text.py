"""Text the app shows is written for its user (issue 20, item 6): no developer markup, benchmark
paths or timings of our machines in the model explanations, datasets shown by name, errors in
words, install notes only where Spark was asked for (streamlit.testing.v1.AppTest)."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from recsys_core.models import trainable_models

APP = str(Path(__file__).resolve().parents[2] / "app.py")
DEVELOPER_TEXT = (":meth:", ":class:", ":mod:", "``", "benchmarks/", " s wall", "CPU s",
                  "docstring")


def test_every_model_has_a_how_it_works_written_for_the_user(train_page):
    for kind, cls in sorted(trainable_models().items()):
        at = train_page(kind)
        how = [e for e in at.expander if e.label.startswith("How ")]
        assert [e.label for e in how] == [f"How {cls.__name__} works"], kind
        text = "\n".join(m.value for m in how[0].markdown)
        assert "**What it learns.**" in text and "**Main knobs.**" in text, kind
        for bad in DEVELOPER_TEXT:
            assert bad not in text, (kind, bad)
        # and nothing else on the page quotes the engine's docstrings
        assert not any("docstring" in c.value for c in at.caption), kind


def test_datasets_are_shown_by_name_with_their_folder_on_hover(monkeypatch, tmp_path):
    """ml-100k (found through RECSYS_DATA_DIR) is listed as "ml-100k"; its absolute folder is only
    in the picker's help and in the Home footer's help."""
    import os

    from ui import data

    monkeypatch.setenv("RECSYS_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")
    folder = dict(data.found_datasets()).get("ml-100k")
    if folder is None:
        pytest.skip("needs ml-100k under RECSYS_DATA_DIR (CI's data)")
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["data"] = "ml-100k"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    picker = at.sidebar.selectbox(key="_w_data")
    labels = list(picker.options)  # as drawn (formatted)
    assert "ml-100k" in labels
    assert not any(os.sep in label for label in labels), labels
    assert folder in picker.help
    footer = [c for c in at.caption if "kept in the address bar" in c.value]
    assert len(footer) == 1 and "Dataset: ml-100k." in footer[0].value
    assert folder not in footer[0].value and folder in footer[0].help
    shown = [m.value for m in at.markdown] + [c.value for c in at.caption]
    assert not any(folder in text for text in shown)


def _recommend_page(monkeypatch, tmp_path) -> tuple:
    """The demo catalogue and the Recommend page opened on a small WALS run of it."""
    from recsys_core.data.demo import make_demo_dataset
    from recsys_core.evaluation.split import holdout_split
    from recsys_core.models import WALS
    from recsys_core.runs.store import RunStore

    dataset = make_demo_dataset(seed=0)
    split = holdout_split(dataset, 0.2, seed=0)
    RunStore(tmp_path / "runs").save(WALS(factors=8, iterations=3).fit(split.train), dataset,
                                     name="wals", split=split)
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(data="demo", run="wals")
    at.run()
    at.switch_page("pages/5_Recommend.py").run()
    return dataset, at


def test_filtered_candidates_are_counted_in_words(monkeypatch, tmp_path):
    """The Recommend page says what each filter left out in words ("in an excluded genre
    (Action)", "with fewer than 150 ratings"), never the engine's filter names."""
    dataset, at = _recommend_page(monkeypatch, tmp_path)
    genre = dataset.genre_names[0]
    at.multiselect(key="_w_rr_genres").set_value([genre]).run()
    at.slider(key="_w_rr_min").set_value(150).run()  # most demo items have fewer
    assert not at.exception, [e.value for e in at.exception]
    said = [c.value for c in at.caption if "out of the candidates" in c.value]
    assert len(said) == 1, [c.value for c in at.caption]
    assert f"in an excluded genre ({genre})" in said[0]
    assert "with fewer than 150 ratings" in said[0]
    for name in ("min_ratings", " genre,", " seen", "Filtered out"):
        assert name not in said[0], said[0]


def test_the_recommend_list_says_which_columns_are_to_the_right(monkeypatch, tmp_path):
    """The list is wider than the page: a caption names what scrolling sideways shows (the
    browser test checks the titles stay in view meanwhile)."""
    dataset, at = _recommend_page(monkeypatch, tmp_path)
    assert not at.exception, [e.value for e in at.exception]
    said = [c.value for c in at.caption if "scroll the table sideways" in c.value]
    assert len(said) == 1 and "genres" in said[0] and "**because you rated**" in said[0], said
