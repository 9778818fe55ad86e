"""What each model does, written for the student on the Train page ("How X works").

One short explanation per model class: what the model learns, its main knobs and when to use it.
Written here for the person using the app, never taken from the engine's docstrings (those are for
developers: markup, benchmark scripts and timings of our machines).
"""
from __future__ import annotations

from recsys_core.models import (EASE, WALS, ContentBased, ItemKNN, MatrixFactorization, Popularity,
                                SoftmaxModel, SVDModel, TwoTowerModel)

GUIDES: dict[type, str] = {
    WALS: """
**What it learns.** An embedding (a short vector of numbers) for every user and every item, so
that the dot product of a user's and an item's vectors is close to 1 for items the user
interacted with and close to 0 for all the others.

**How.** It alternates two exact steps: with the item vectors fixed, the best vector of each user
is a small least-squares problem solved exactly; then the same for the items. A few sweeps are
usually enough.

**Main knobs.**
- *Factors*: the length of the vectors (more: finer tastes, slower, easier to overfit).
- *Unobserved weight*: how much the pairs nobody interacted with count as "probably not liked".
  Without it every item could score high for everyone (items *fold* together).
- *Regularization*: pulls vectors towards zero; too weak overfits rare items, too strong shrinks
  every vector to about zero (a *collapsed* model).
- *Alpha* and *confidence*: how much more a high rating or a large count counts than a low one.

**When to use it.** Top-N recommendation from clicks, plays or ratings: the reference model of
the course, fast and reliable.
""",
    MatrixFactorization: """
**What it learns.** A vector for every user and every item (plus, optionally, a bias per user and
per item) whose dot product predicts the user's feedback.

**How.** Stochastic gradient descent: it visits the ratings one by one and nudges both vectors to
reduce the error, epoch after epoch. The loss chart shows each term shrinking.

**Main knobs.**
- *Objective*: "observed" fits the known ratings only (good rating predictions, poor rankings:
  nothing tells it what users did *not* pick); "gravity" and "weighted" also push the scores of
  unobserved pairs towards zero, which is what makes the ranking useful.
- *Factors*, *epochs*, *learning rate*: the size of the vectors, how long and how fast it learns.
- *Regularization*: keeps the vectors small so rare items are not overfitted.

**When to use it.** To see how the choice of loss changes what a model learns; to predict
ratings (with the "observed" objective and biases).
""",
    SVDModel: """
**What it learns.** User and item vectors from the singular value decomposition of the
user x item matrix, with every missing entry taken as 0.

**How.** One exact computation, no training loop: the best low-rank approximation of the matrix.

**Main knobs.**
- *Factors*: the rank of the approximation (more is not better here: extra factors mostly fit
  the popular items).
- *Binary*: use 1 for "interacted" instead of the rating value.

**When to use it.** As a baseline for matrix factorization: because missing means 0, its scores
rank items well enough but are not rating predictions.
""",
    EASE: """
**What it learns.** One weight for every pair of items: how much having item *j* in your history
votes for item *i*. Your score for an item is the sum of the votes of the items you have.

**How.** One exact solve (no epochs): the weights that best rebuild every user's history from
the other items of that history.

**Main knobs.**
- *Regularization*: larger values give smoother, more popular recommendations.
- *Use ratings*: weigh the history by the rating values instead of 0/1.
- *Weights per item*: keep only the strongest weights, which makes the saved run much smaller at
  almost no cost in quality.

**When to use it.** A very strong top-N model on catalogues up to tens of thousands of items. It
has no embeddings, so the map pages do not apply to it.
""",
    ItemKNN: """
**What it learns.** For every item, its most similar items: two items are similar when the same
users interacted with both.

**How.** It counts co-occurrences; your score for an item adds up its similarity to each item in
your history. Nothing is optimised.

**Main knobs.**
- *Neighbours*: how many similar items each item keeps.
- *Shrinkage*: lowers the similarity of items with few users, so one shared user does not make
  two obscure items "identical".

**When to use it.** The neighbourhood method to compare with matrix factorization: easy to
explain ("because you watched ..."), no embeddings.
""",
    ContentBased: """
**What it learns.** Nothing from other users. Each item is described by its features (genres,
release-year bucket); a user is the average of the items they rated, liked items pulling towards
their features and disliked ones pushing away.

**How.** Your score for an item is the similarity between your profile and the item's features.

**Main knobs.**
- *Features*, *weighting* (0/1 or TF-IDF, where common genres count less), *year weight*.
- *Measure*: dot product or cosine similarity.
- *Center ratings*: count ratings below your own average against their features.

**When to use it.** New items (they have features before anyone rated them) and users who state
their tastes; as a contrast with collaborative filtering.
""",
    Popularity: """
**What it learns.** One ranking of the items, the same for everyone.

**Main knobs.**
- *Variant*: by number of ratings ("count"), or by mean rating ("mean-rating").
- *Damping*: for the mean rating, pretends every item also had this many average ratings, so an
  item with a single 5-star rating does not top the list.

**When to use it.** The baseline: a personalised model that does not beat it has learned
nothing about individual users.
""",
    SoftmaxModel: """
**What it learns.** A small neural network that turns what is known about a user (their history,
the genres and years of that history, their own features) into a vector, and one vector per item.

**How.** Trained by gradient descent to give the items the user actually picked a high
probability among all the items (a softmax over the catalogue, or over sampled negatives).

**Main knobs.**
- *Inputs*: which user features the network sees.
- *Hidden layers*, *factors*: the size of the network and of the vectors.
- *Loss* and *negatives*: the full softmax, or a sampled one (faster); training on positives
  alone makes unrelated items fold together.

**When to use it.** When users have features beyond their history, and to see the deep version
of matrix factorization.
""",
    TwoTowerModel: """
**What it learns.** Two small neural networks: one turns a user into a vector (as the softmax
model does), the other turns an item's features (genres, year, optionally its identity) into a
vector. The score is their dot product.

**How.** Trained by gradient descent so that a user's own items score above the other items of
the batch (or sampled negatives).

**Main knobs.**
- *Item features* and *item id embeddings*: what the item tower sees.
- *Hidden layers*, *factors*, *loss*, *negatives*: as for the softmax model.

**When to use it.** Large catalogues and new items: an item nobody has rated still gets a vector
from its features.
""",
}


def guide(model_cls: type) -> str | None:
    """The explanation of ``model_cls`` for the Train page, or None when there is none."""
    text = GUIDES.get(model_cls)
    return text.strip() if text else None
