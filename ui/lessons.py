"""The course's lessons, one click away: each one owns its setup.

A lesson names the page it opens, the page values it sets (a projection, a colour, a query) and
the runs it needs, by their properties: model kind and settings (the kind's defaults with the
lesson's changes), trained on the chosen dataset with the default split. Its link opens exactly
those runs (a saved run with the same settings, the same data and split, not a sweep trial),
whatever was trained last; when one is missing the page says which and offers to train it with
the lesson's settings in one click, and shows nothing else until then (or until the person
opens the page without the lesson). The values chosen here make each lesson's claim hold on
its own data; tests/app/test_app_lessons.py checks every claim on MovieLens 100K.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from recsys_core.models import MODEL_REGISTRY
from recsys_core.runs.store import RunInfo, run_cache_key

from . import page, runs, splits, state, training

#: The query parameter naming the lesson a link opens.
PARAM = "lesson"
#: The split every lesson run is trained and found on.
SPLIT = "holdout"
#: WALS regularization of the Regularization lesson's strong run. Under the default type
#: "observed" (lambda x n^0.5 per row) on ml-100k, 5 shrinks the median norm of items with at
#: most 6 ratings from 0.46 to 0.05 and of items with 80 or more from 1.0 to 0.6, and its top 10
#: share 84% of the popularity baseline's (28% at 0.8, beside the default 0.65); from about 14 every
#: embedding collapses to ~0 (the old lesson's 50 gave norms of 1e-13). On the demo catalogue
#: the same pair halves the norm ratio and brings NDCG@10 to the popularity baseline's.
STRONG_REGULARIZATION = 5.0


@dataclass(frozen=True)
class Need:
    """A run a lesson needs: a model kind with ``settings`` (changes to its defaults), put
    into the page value ``role`` ("run", "emb_cmp", or one of the "cmp" list)."""

    kind: str
    role: str = "run"
    settings: dict = field(default_factory=dict)

    def params(self) -> dict:
        """Every hyperparameter of the run, as :class:`~recsys_core.models.base.Recommender`
        reports them (the defaults with the lesson's settings)."""
        return MODEL_REGISTRY[self.kind](**self.settings).get_params()

    def describe(self) -> str:
        """"WALS with regularization 5", "MF with its defaults"."""
        name = self.kind.upper() if len(self.kind) <= 4 else self.kind
        if not self.settings:
            return f"{name} with its defaults"
        return f"{name} with " + ", ".join(
            k.replace("_", " ") + " " + (f"{v:g}" if isinstance(v, float) else str(v))
            for k, v in self.settings.items())


@dataclass(frozen=True)
class Lesson:
    slug: str
    label: str
    page: str
    text: str
    needs: tuple[Need, ...]
    values: dict = field(default_factory=dict)  # page values the link sets


WALS = Need("wals")
LESSONS = (
    Lesson("dot-vs-cosine", "Dot product vs cosine", "pages/4_Similarity.py",
           "For a user of a WALS run, the dot product's top 10 are popular, large-norm items; "
           "cosine's are not (compare the *mean ratings* under each list). The toy example at "
           "the bottom shows why.",
           (WALS,), {"query": "user"}),
    Lesson("norm-vs-popularity", "Norm vs popularity", "pages/3_Embeddings.py",
           "In the last chart of a WALS run, frequently rated items have larger embeddings "
           "(a Spearman correlation near 1).",
           (WALS,), {"proj": "pca", "colour": "norm"}),
    Lesson("folding", "Folding", "pages/3_Embeddings.py",
           "MF trained with objective *observed* (no negatives) beside the default *weighted*: "
           "without negatives nothing keeps unrelated items apart, so an item's nearest "
           "neighbours share its genre less often (select points on the map to list them) and "
           "the lists mix genres.",
           (Need("mf", "run", {"objective": "observed"}), Need("mf", "emb_cmp")),
           {"proj": "pca", "colour": "genre"}),
    Lesson("regularization", "Regularization", "pages/3_Embeddings.py",
           f"WALS with its default regularization beside {STRONG_REGULARIZATION:g}, both of the "
           "default type *observed* (λ scaled by the square root of each row's number of "
           "ratings): the stronger one shrinks the norms of rarely rated items far more than "
           "those of popular ones (compare the two norm vs popularity charts), which pulls its "
           "lists toward the most popular titles. Much stronger (about 15 on MovieLens 100K) "
           "shrinks every embedding to ~0: the model collapses.",
           (Need("wals", "run"),
            Need("wals", "emb_cmp", {"regularization": STRONG_REGULARIZATION})),
           {"proj": "pca", "colour": "norm"}),
    Lesson("wals-vs-sgd", "WALS vs SGD", "pages/6_Compare_runs.py",
           "A WALS run and an MF run (trained by SGD) side by side: the training curves are "
           "drawn against epochs and seconds.",
           (Need("wals", "cmp"), Need("mf", "cmp")), {"cmp_view": "Training curves"}),
    Lesson("cold-start", "Cold start by fold-in", "pages/5_Recommend.py",
           "Rate one title and get a list at once from a WALS run, without retraining.",
           (WALS,), {"who": "new"}),
    Lesson("scoring-model", "Why a scoring model", "pages/5_Recommend.py",
           "Candidates from several generators, ranked by a classifier trained on held-out "
           "ratings: on users it was not trained on, it ranks better than any generator's own "
           "score.",
           (WALS,), {"who": "user", "cand": "pipeline"}),
    Lesson("knob-costs", "What each knob costs", "pages/5_Recommend.py",
           "Move a re-ranking knob and read the metric impact table.",
           (WALS,), {"who": "user", "cand": "model"}),
)
BY_SLUG = {lesson.slug: lesson for lesson in LESSONS}


def split_params() -> dict:
    return dict(splits.SPLITS[SPLIT][1])


def find(dataset, need: Need) -> RunInfo | None:
    """The newest saved run of ``need`` on ``dataset``: its model kind and settings, the
    lesson's split and the library version (the run's cache key), not a sweep's trial."""
    key = run_cache_key(need.kind, need.params(), dataset.fingerprint, split_params())
    return next((info for info in runs.runs_for(dataset)
                 if info.cache_key == key and not runs.sweep_trial(info)), None)


def links(source: str) -> None:
    """Home's list: each lesson's link (with the page values it sets) and what it shows."""
    for lesson in LESSONS:
        link, what = st.columns([1, 2])
        link.page_link(lesson.page, label=lesson.label,
                       query_params={"data": source, PARAM: lesson.slug, **lesson.values})
        what.markdown(lesson.text)


def _leave() -> None:
    st.query_params.pop(PARAM, None)


def arrive(source: str, dataset) -> None:
    """On a page opened by a lesson's link: put the lesson's runs into the page's values, or
    offer to train the missing ones with the lesson's settings (and stop the page meanwhile).
    A link acts once: afterwards the pickers are the person's."""
    slug = st.query_params.get(PARAM)
    if slug is None:
        return
    lesson = BY_SLUG.get(slug)
    if lesson is None:
        st.warning(f"There is no lesson {slug!r}; the page opens as it is.")
        _leave()
        return
    found = [find(dataset, need) for need in lesson.needs]
    missing = [need for need, info in zip(lesson.needs, found) if info is None]
    if missing:
        what = " and ".join(need.describe() for need in missing)
        # One st.empty slot around the offer, emptied once the runs are trained: otherwise the
        # run that trains them leaves "Not trained yet" and the button above their charts.
        slot = st.empty()
        offer = slot.container()
        offer.info(f"**{lesson.label}** uses {len(lesson.needs)} run"
                   f"{'s' if len(lesson.needs) > 1 else ''} of this dataset: "
                   + ", ".join(need.describe() for need in lesson.needs)
                   + f". Not trained yet: {what}.")
        train = offer.button(f"Train {what} (the lesson's settings)", key="lesson_train",
                             type="primary")
        if not train:
            offer.button("Open the page without the lesson", key="lesson_skip", on_click=_leave)
            st.stop()
        bar = st.progress(0.0, text="starting…")
        with page.user_errors():
            for i, need in enumerate(lesson.needs):
                if found[i] is None:
                    found[i] = training.train_with_settings(
                        need.kind, need.settings, source, dataset, split_params(),
                        lambda f, text: bar.progress(min(1.0, f), text=text))
        bar.empty()
        slot.empty()
    roles: dict[str, list[str]] = {}
    for need, info in zip(lesson.needs, found):
        roles.setdefault(need.role, []).append(info.name)
    for role, names in roles.items():
        if role == "cmp":
            state.put(role, names, to_text=",".join)
        else:
            state.put(role, names[0])
    _leave()
