"""The dashboard's pages under streamlit.testing.v1.AppTest, on the demo catalogue and ml-100k.

Each test starts at app.py and switches page the way the sidebar does, so page links resolve.
Runs are saved to a temporary store (RECSYS_RUNS_DIR), never to data/runs.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from recsys_core.data import load_movielens_100k
from recsys_core.data.demo import make_demo_dataset
from recsys_core.evaluation.metrics import evaluate_model
from recsys_core.evaluation.split import holdout_split
from recsys_core.models import MODEL_REGISTRY
from recsys_core.runs.store import RunStore
from ui import impact as impact_jobs

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
ML100K = Path(os.environ.get("RECSYS_DATA_DIR", "/nonexistent")) / "ml-100k"


@pytest.fixture(scope="module")
def demo_dataset():
    return make_demo_dataset(seed=0)


def _train_run(store: RunStore, dataset, name: str, **params):
    split = holdout_split(dataset, 0.2, seed=0)
    model = MODEL_REGISTRY["wals"](**params).fit(split.train)
    metrics = evaluate_model(model, split.test, k=10, beyond_accuracy=False)
    return store.save(model, dataset, name=name, split=split, metrics=metrics)


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory, demo_dataset):
    """A run store with two small WALS runs on the demo catalogue."""
    root = tmp_path_factory.mktemp("runs")
    store = RunStore(root)
    _train_run(store, demo_dataset, "wals-small", factors=8, iterations=3)
    _train_run(store, demo_dataset, "wals-reg", factors=8, iterations=3, regularization=50.0)
    return root


@pytest.fixture
def app(runs_dir, monkeypatch):
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(runs_dir))
    monkeypatch.setenv("RECSYS_PRECOMPUTE_UMAP", "0")  # no UMAP compile in the background
    return _open


def _open(page: str | None = None, **query) -> AppTest:
    query.setdefault("data", "demo")  # the app opens on MovieLens when RECSYS_DATA_DIR has it
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    if page is not None:
        at.switch_page(page).run()
    _assert_clean(at)
    return at


def _assert_clean(at: AppTest):
    assert not at.exception, [e.value for e in at.exception]


def _tables(at: AppTest, *columns: str) -> list:
    """The page's tables (DataFrames) having all these columns, in page order."""
    return [d.value for d in at.dataframe if set(columns) <= set(d.value.columns)]


def _top_lists(at: AppTest) -> dict:
    """The Similarity page's four top-k tables by measure (drawn in MEASURES order)."""
    tables = _tables(at, "title", "score", "norm %")
    return dict(zip(("dot", "cosine", "euclidean", "tempered"), tables))


def _ml100k_or_skip():
    if not (ML100K / "u.data").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail("MovieLens 100K missing under RECSYS_DATA_DIR")
        pytest.skip("MovieLens 100K not available (set RECSYS_DATA_DIR)")


# ---------------------------------------------------------------------------- home and data
def test_home_shows_demo_summary(app, demo_dataset):
    at = app()
    values = {m.label: m.value for m in at.metric}
    assert values["Users"] == f"{demo_dataset.n_users:,}"
    assert values["Ratings"] == f"{demo_dataset.n_ratings:,}"
    assert at.query_params["data"] == ["demo"] or at.query_params["data"] == "demo"


def test_data_page_demo_charts_and_genre_filter(app, demo_dataset):
    at = app("pages/1_Data.py")
    assert len(at.get("plotly_chart")) == 4
    genre = demo_dataset.genre_names[0]
    at.multiselect(key="_w_genres").set_value([genre]).run()
    _assert_clean(at)
    expected = int(demo_dataset.item_genres[demo_dataset.ratings.indices, 0].sum())
    assert any(f"{expected:,} of {demo_dataset.n_ratings:,}" in i.value for i in at.info)


def test_data_page_movielens_with_occupation_filter(app):
    _ml100k_or_skip()
    at = app("pages/1_Data.py", data="ml-100k")
    assert {m.label: m.value for m in at.metric}["Ratings"] == "100,000"
    at.multiselect(key="_w_occupations").set_value(["student"]).run()
    _assert_clean(at)
    assert any("of 100,000 ratings" in i.value for i in at.info)


def test_bad_upload_is_reported_not_raised(app, tmp_path):
    bad = tmp_path / "ratings.csv"
    bad.write_text("user,item,rating\n1,10,4\n2,11,not-a-number\n")
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["uploaded_datasets"] = {"upload-bad": ("ratings", str(bad), None)}
    at.query_params["data"] = "upload-bad"
    at.run()
    _assert_clean(at)
    assert at.error and "ratings.csv" in at.error[0].value


# ---------------------------------------------------------------------------- train
def test_train_page_trains_saves_and_reuses_a_run(app, runs_dir):
    at = app("pages/2_Train.py")
    at.selectbox(key="_w_model").set_value("wals").run()
    at.number_input(key="_w_hp_wals_factors").set_value(4).run()
    at.number_input(key="_w_hp_wals_iterations").set_value(2).run()
    at.button(key="train").click().run()
    _assert_clean(at)
    saved = [s.value for s in at.success]
    assert saved and saved[0].startswith("Saved run")
    name = saved[0].split("**")[1]
    info = RunStore(runs_dir).info(name)
    assert info.params["factors"] == 4 and len(info.history) == 2
    assert "ndcg@10" in info.metrics
    # The live loss curve was drawn (one line per loss component) and the evaluation table shown.
    metrics = _tables(at, "metric", "value")[0]
    assert "ndcg@10" in set(metrics["metric"])
    # Same settings again: the saved run is reused, nothing is trained.
    n_runs = len(RunStore(runs_dir).list())
    at.button(key="train").click().run()
    assert any("reusing run" in s.value for s in at.success)
    assert len(RunStore(runs_dir).list()) == n_runs
    # Delete it from the page.
    at.selectbox(key="_w_run").set_value(name).run()
    at.button(key=f"delete_run_{name}").click().run()  # asks first, naming the run
    assert name in [i.name for i in RunStore(runs_dir).list()]
    at.button(key=f"confirm_delete_{name}").click().run()
    _assert_clean(at)
    assert name not in [i.name for i in RunStore(runs_dir).list()]


def test_train_page_bad_hyperparameter_is_a_message(app):
    at = app("pages/2_Train.py")
    at.selectbox(key="_w_model").set_value("wals").run()
    at.number_input(key="_w_hp_wals_regularization").set_value(-1.0).run()
    at.button(key="train").click().run()
    _assert_clean(at)
    assert at.error and "regularization" in at.error[0].value


# ---------------------------------------------------------------------------- similarity
def test_similarity_page_compares_measures_for_a_user(app, runs_dir):
    at = app("pages/4_Similarity.py", run="wals-small")
    tables = _top_lists(at)
    assert len(tables) == 4 and all(len(t) == 10 for t in tables.values())
    agreement = _tables(at, "pair", "top-k overlap")[0]
    assert len(agreement) == 6
    assert agreement["top-k overlap"].between(0, 1).all()
    # The tempered measure at alpha=0 is cosine: identical lists.
    at.slider(key="_w_alpha").set_value(0.0).run()
    _assert_clean(at)
    tables = _top_lists(at)
    assert (tables["tempered"]["title"].str.lstrip("★ ").tolist()
            == tables["cosine"]["title"].str.lstrip("★ ").tolist())


def test_similarity_page_item_query_and_unknown_title(app, demo_dataset):
    at = app("pages/4_Similarity.py", run="wals-small", query="item")
    title = demo_dataset.items["title"].iloc[int(np.argmax(demo_dataset.item_popularity))]
    at.text_input(key="_w_item_q").set_value(title).run()
    _assert_clean(at)
    tables = _top_lists(at)
    assert len(tables) == 4
    for table in tables.values():
        assert title not in table["title"].str.lstrip("★ ").tolist()
    at.text_input(key="_w_item_q").set_value("no such film zzz").run()
    _assert_clean(at)
    assert any("No title contains" in e.value for e in at.error)


def test_similarity_toy_example_each_measure_picks_another_item(app):
    at = app("pages/4_Similarity.py", run="wals-small")
    text = [m.value for m in at.markdown if "Most similar under" in m.value][0]
    assert "**dot**: B" in text and "**cosine**: A" in text and "**Euclidean**: C" in text
    # Make A long and aligned with the query: now it wins under dot as well.
    at.slider(key="_w_toy_Ax").set_value(5.0).run()
    at.slider(key="_w_toy_Ay").set_value(5.0).run()
    text = [m.value for m in at.markdown if "Most similar under" in m.value][0]
    assert "**dot**: A" in text


# ---------------------------------------------------------------------------- embeddings
def test_embeddings_page_pca_map_selection_and_two_run_diagnostic(app):
    at = app("pages/3_Embeddings.py", run="wals-small", proj="pca")
    charts = at.get("plotly_chart")
    assert charts  # the map and the norm-vs-popularity scatter
    at.session_state["emb_map"] = {"selection": {"point_indices": [0, 1, 2], "points": [],
                                                 "box": [], "lasso": []}}
    at.run()
    _assert_clean(at)
    table = _tables(at, "nearest neighbours")[0]
    assert len(table) == 3 and table["nearest neighbours"].str.len().gt(0).all()
    at.selectbox(key="_w_emb_cmp").set_value("wals-reg").run()
    _assert_clean(at)
    captions = [c.value for c in at.caption if "Spearman" in c.value]
    assert len(captions) == 2
    assert at.query_params["emb_cmp"] in ("wals-reg", ["wals-reg"])  # a link keeps the pair


def test_embeddings_page_user_map_coloured_by_occupation(app):
    at = app("pages/3_Embeddings.py", run="wals-small", proj="pca", emb="users",
             colour="occupation")
    assert at.get("plotly_chart")
    assert any("3,000 users" in c.value for c in at.caption)


def test_pages_render_on_movielens(app, runs_dir):
    _ml100k_or_skip()
    ml = load_movielens_100k(ML100K)
    _train_run(RunStore(runs_dir), ml, "wals-ml100k", factors=8, iterations=2)
    for path in ("pages/1_Data.py", "pages/2_Train.py", "pages/3_Embeddings.py",
                 "pages/4_Similarity.py", "pages/5_Recommend.py", "pages/6_Compare_runs.py"):
        at = app(path, data="ml-100k", run="wals-ml100k", proj="pca")
        assert not at.error, (path, [e.value for e in at.error])


# ---------------------------------------------------------------------------- recommend
def _rec_titles(at: AppTest) -> list[str]:
    return _tables(at, "rank", "title", "moved by")[0]["title"].tolist()


def test_recommend_page_knob_changes_the_list_and_explains_it(app):
    at = app("pages/5_Recommend.py", run="wals-small")
    table = _tables(at, "rank", "title", "moved by")[0]
    assert len(table) == 10 and set(table["moved by"]) == {"none"}
    assert table["because you rated"].str.len().gt(0).all()
    before = table["title"].tolist()
    at.slider(key="_w_rr_pop").set_value(0.8).run()
    _assert_clean(at)
    after = _tables(at, "rank", "title", "moved by")[0]
    assert after["title"].tolist() != before
    assert after["moved by"].str.contains("popularity_penalty").any()
    assert at.query_params["rr_pop"] in ("0.8", ["0.8"])
    # The penalty lowers the popularity of the listed items, and the impact table says so (it
    # is measured in the background; the next run draws it).
    impact_jobs.wait_for_jobs()
    at.run()
    impact = _tables(at, "metric", "model order", "re-ranked")[0].set_index("metric")
    assert impact.loc["mean_popularity", "change"] < 0


def test_recommend_page_genre_exclusion_never_leaks(app, demo_dataset):
    genre = demo_dataset.genre_names[0]
    at = app("pages/5_Recommend.py", run="wals-small")
    at.multiselect(key="_w_rr_genres").set_value([genre]).run()
    _assert_clean(at)
    listed = _tables(at, "rank", "title", "moved by")[0]
    assert not listed["genres"].str.split("|").apply(lambda g: genre in g).any()


def test_recommend_page_new_user_fold_in(app, demo_dataset):
    at = app("pages/5_Recommend.py", run="wals-small", who="new")
    assert any("Rate at least one title" in i.value for i in at.info)
    title = demo_dataset.items["title"].iloc[5]
    at.text_input(key="_w_rate_item_q").set_value(title).run()
    at.button(key="add_rating").click().run()
    _assert_clean(at)
    mine = _tables(at, "title", "your rating")[0]
    assert mine["title"].tolist() == [title]
    listed = _rec_titles(at)
    assert len(listed) == 10 and title not in listed
    # The folded-in user is a query on the Similarity page of the same session.
    at.switch_page("pages/4_Similarity.py").run()
    at.radio(key="_w_query").set_value("new user").run()
    _assert_clean(at)
    assert any("folded-in embedding from 1 rated" in c.value for c in at.caption)
    assert len(_top_lists(at)) == 4


# ---------------------------------------------------------------------------- compare runs
def test_compare_runs_page_metrics_and_side_by_side_lists(app):
    at = app("pages/6_Compare_runs.py")
    runs_table = _tables(at, "run", "model", "hyperparameters")[0]
    assert {"wals-small", "wals-reg"} <= set(runs_table["run"])
    assert "ndcg@10" in runs_table.columns
    at.multiselect(key="_w_cmp").set_value(["wals-small", "wals-reg"]).run()
    _assert_clean(at)
    # The paired differences' table and forest plot, then the open tab (one pair's per-user
    # distribution); the other tabs are drawn when opened, plotly charts only there.
    assert _tables(at, "run", "metric", "difference", "95% interval")
    charts = [m.value for m in at.markdown if "<svg" in m.value]
    assert len(charts) == 2 and "per user" in charts[1]
    assert not at.get("plotly_chart")
    at = app("pages/6_Compare_runs.py", cmp="wals-small,wals-reg", cmp_view="Saved metrics")
    assert [c.key for c in at.get("plotly_chart")] == ["metrics_chart"]
    at = app("pages/6_Compare_runs.py", cmp="wals-small,wals-reg", cmp_view="Training curves")
    assert [c.key for c in at.get("plotly_chart")][-2:] == ["curves_epoch", "curves_seconds"]
    at = app("pages/6_Compare_runs.py", cmp="wals-small,wals-reg",
             cmp_view="Lists for one user")
    lists = _tables(at, "title", "ratings")
    assert len(lists) == 2 and all(len(t) == 10 for t in lists)


def test_compare_runs_metric_choice_is_kept_in_the_link_and_across_pages(app):
    """The metric picker was a plain widget: a link could not carry it, and leaving the page
    dropped the choice."""
    at = app("pages/6_Compare_runs.py", cmp="wals-small,wals-reg", cmp_metrics="recall@10")
    _assert_clean(at)
    assert at.multiselect(key="_w_cmp_metrics").value == ["recall@10"]
    at.multiselect(key="_w_cmp_metrics").set_value(["recall@10", "ndcg@10"]).run()
    assert at.query_params["cmp_metrics"] in ("recall@10,ndcg@10", ["recall@10,ndcg@10"])
    at.switch_page("pages/2_Train.py").run()
    at.switch_page("pages/6_Compare_runs.py").run()
    _assert_clean(at)
    assert at.multiselect(key="_w_cmp_metrics").value == ["recall@10", "ndcg@10"]
    # A link naming a metric these runs lack says which one, and keeps the default choice.
    at = app("pages/6_Compare_runs.py", cmp="wals-small,wals-reg", cmp_metrics="bogus@3")
    _assert_clean(at)
    notes = [c.value for c in at.caption if "cmp_metrics" in c.value]
    assert notes and "bogus@3 is not among the choices" in notes[0], notes
    assert "ndcg@10" in at.multiselect(key="_w_cmp_metrics").value


def test_embeddings_page_shows_the_umap_map_from_the_background_job(app, monkeypatch):
    """The non-linear map comes from the projection worker (UMAP itself is replaced by a fast
    stand-in here: its compile time belongs in benchmarks/bench_app.py)."""
    import json

    import ui.projections
    from recsys_core.evaluation.projection import project

    calls = []

    def fast_project(embeddings, method="umap", **kwargs):
        calls.append((method, kwargs.get("n_neighbors")))
        return project(embeddings, "pca")

    monkeypatch.setattr(ui.projections, "project", fast_project)
    at = app("pages/3_Embeddings.py", run="wals-small", proj="umap", nn="7")
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")
              if "title" in json.loads(c.proto.spec)["layout"]]
    assert "UMAP" in titles
    assert ("umap", 7) in calls
    # Same settings again: served from the registry, not recomputed.
    n = len(calls)
    at.run()
    assert len(calls) == n


def test_download_failure_is_reported_in_place(app, monkeypatch):
    """Offline, the download button reports the engine's DownloadError next to it."""
    import recsys_core.data.download
    from recsys_core.errors import DownloadError

    progress_seen = []

    def offline(name, dest=None, progress=None, **kwargs):
        progress(1_000_000, 4_900_000)
        progress_seen.append(name)
        raise DownloadError(f"cannot reach files.grouplens.org for {name}")

    monkeypatch.setattr(recsys_core.data.download, "download_movielens", offline)
    at = app("pages/1_Data.py")
    at.button(key="download_ml-latest-small").click().run()
    _assert_clean(at)
    assert progress_seen == ["ml-latest-small"]
    assert any("cannot reach files.grouplens.org" in e.value for e in at.error)


def test_corrupted_run_is_a_message_not_a_traceback(app, runs_dir, tmp_path, monkeypatch):
    import shutil

    broken_root = tmp_path / "runs"
    shutil.copytree(Path(runs_dir) / "wals-small", broken_root / "wals-small")
    (broken_root / "wals-small" / "model.npz").write_bytes(b"not a zip file")
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(broken_root))
    for path in ("pages/3_Embeddings.py", "pages/4_Similarity.py", "pages/5_Recommend.py"):
        at = app(path, run="wals-small")
        assert at.error and "model.npz" in at.error[0].value, path


def test_a_link_with_query_parameters_overrides_the_session(app):
    """Lesson links and shared URLs carry settings; they win over what the session had."""
    at = app("pages/5_Recommend.py", run="wals-small")
    assert at.radio(key="_w_who").value == "user"
    at.slider(key="_w_k").set_value(12).run()
    assert len(_rec_titles(at)) == 12
    at.switch_page("pages/4_Similarity.py").run()
    at.query_params["who"] = "new"  # as if the person followed a link to this view
    at.switch_page("pages/5_Recommend.py").run()
    _assert_clean(at)
    assert at.radio(key="_w_who").value == "new"
    assert at.slider(key="_w_k").value == 12  # settings the link did not carry stay
    at.radio(key="_w_who").set_value("user").run()  # and the person can still change them
    assert at.radio(key="_w_who").value == "user"


def test_recommend_page_pipeline_with_generators_and_scoring_model(app):
    at = app("pages/5_Recommend.py", run="wals-small", cand="pipeline")
    listed = _tables(at, "rank", "title", "nominated by")[0]
    assert len(listed) == 10
    assert listed["nominated by"].str.len().gt(0).all()
    comparison = _tables(at, "ranking by", "auc")[0]
    assert comparison["ranking by"].iloc[0].startswith("scoring model")
    assert {"wals score only", "popularity score only"} <= set(comparison["ranking by"])
    assert comparison["auc"].between(0, 1).all()
    # The knobs re-rank the scored pool too.
    at.slider(key="_w_rr_mmr").set_value(0.3).run()
    _assert_clean(at)
    assert _tables(at, "rank", "title", "nominated by")[0]["moved by"].str.contains(
        "diversity").any()


def test_recommend_page_retrieval_measure_changes_the_list(app):
    at = app("pages/5_Recommend.py", run="wals-small")
    by_model = _rec_titles(at)
    at.selectbox(key="_w_measure").set_value("dot").run()
    assert _rec_titles(at) == by_model  # WALS has no biases: its score is the dot product
    at.selectbox(key="_w_measure").set_value("cosine").run()
    _assert_clean(at)
    by_cosine = _tables(at, "rank", "title", "moved by")[0]
    assert by_cosine["title"].tolist() != by_model
    assert at.query_params["measure"] in ("cosine", ["cosine"])


def _upload_script():
    import streamlit as st

    from recsys_core.errors import DataError
    from ui import data

    class Upload:  # what st.file_uploader returns: a name and the bytes
        def __init__(self, name, content):
            self.name, self._content = name, content

        def getvalue(self):
            return self._content

    bad = data.register_upload(Upload("my ratings.csv", b"user,item,rating\n1,10,4\n2,11,oops\n"))
    try:
        data.load_source(bad)
    except DataError as exc:
        st.error(data.upload_message(bad, exc))
    good = data.register_upload(Upload("good.csv", b"user,item,rating\n1,10,4\n2,11,3\n2,10,5\n"))
    st.markdown(f"ratings={data.load_source(good).n_ratings}")
    st.markdown("sources=" + ",".join(sorted(data.sources())))


def test_uploaded_csv_becomes_a_source_and_errors_name_the_file(app):
    at = AppTest.from_function(_upload_script, default_timeout=60).run()
    _assert_clean(at)
    message = at.error[0].value
    assert message.startswith("my ratings.csv:3") and "recsys-studio-uploads" not in message
    texts = [m.value for m in at.markdown]
    assert "ratings=3" in texts
    assert any(t.startswith("sources=") and t.count("upload-") == 2 for t in texts)


def test_train_page_invalid_run_name_is_a_message(app, runs_dir):
    at = app("pages/2_Train.py", model="popularity")
    at.text_input(key="_w_run_name").set_value("bad name!").run()
    assert at.button(key="train").disabled  # said as it is typed, before any training
    _assert_clean(at)
    assert at.error and "invalid run name" in at.error[0].value
    assert "bad name!" not in [i.name for i in RunStore(runs_dir).list()]


def test_new_user_ratings_from_another_dataset_are_skipped(app):
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["new_user_profile"] = {"items": [987654321], "ratings": [5.0]}
    at.query_params["data"] = "demo"
    at.query_params["run"] = "wals-small"
    at.query_params["who"] = "new"
    at.run()
    at.switch_page("pages/5_Recommend.py").run()
    _assert_clean(at)
    assert any("Rate at least one title" in i.value for i in at.info)


def _many_users_script():
    import numpy as np
    import streamlit as st

    from recsys_core.data.dataset import Dataset
    from ui import pickers

    n = 6000
    users = np.arange(n)
    dataset = Dataset.from_interactions(users, users % 7, np.ones(n))
    st.markdown(f"index={pickers.select_user(dataset)}")


def test_user_picker_takes_a_typed_id_for_very_large_datasets(app):
    at = AppTest.from_function(_many_users_script, default_timeout=60).run()
    assert "index=0" in [m.value for m in at.markdown]
    at.text_input(key="_w_user").set_value("4321").run()
    assert "index=4321" in [m.value for m in at.markdown]
    at.text_input(key="_w_user").set_value("no-such-user").run()
    _assert_clean(at)
    assert at.error and "unknown user id" in at.error[0].value


def test_run_from_an_older_version_is_reported(app, runs_dir, tmp_path, monkeypatch):
    import json
    import shutil

    root = tmp_path / "runs"
    shutil.copytree(Path(runs_dir) / "wals-small", root / "old-run")
    info = json.loads((root / "old-run" / "run.json").read_text())
    info["format"] = "recsys-studio-run/0"
    (root / "old-run" / "run.json").write_text(json.dumps(info))
    monkeypatch.setenv("RECSYS_RUNS_DIR", str(root))
    for path in ("pages/2_Train.py", "pages/6_Compare_runs.py"):
        at = app(path)
        assert any("old-run" in w.value and "retrain" in w.value for w in at.warning), path
