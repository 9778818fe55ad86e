"""MODEL_REGISTRY holds the engine's models by kind; a subclass made elsewhere (a test's variant
of a model) does not replace the model it derives from unless it names a kind of its own."""
from recsys_core.models import MODEL_REGISTRY, PrecomputedEmbeddings


def test_a_subclass_without_its_own_kind_leaves_the_registry_alone():
    class Variant(PrecomputedEmbeddings):
        predicts_ratings = True

    assert MODEL_REGISTRY["precomputed"] is PrecomputedEmbeddings
    assert Variant.kind == "precomputed"  # still says what it is, e.g. in saved files
