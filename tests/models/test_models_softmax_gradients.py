"""Finite-difference checks of every analytic gradient of the neural building blocks and models.

Everything runs in float64 so that central differences are accurate to ~1e-7.
"""
import numpy as np
import pytest
import scipy.sparse as sp

from recsys_core.models.neural import layers as nn
from recsys_core.models.neural.sampling import split_history
from recsys_core.models.neural.softmax import SoftmaxModel

EPS = 1e-6


def numeric_grad(f, x: np.ndarray) -> np.ndarray:
    """Central differences of the scalar f() with respect to array x (perturbed in place)."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + EPS
        up = f()
        x[i] = old - EPS
        down = f()
        x[i] = old
        grad[i] = (up - down) / (2 * EPS)
    return grad


def assert_close(analytic, numeric):
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_dense_and_relu_gradients(rng):
    x = rng.standard_normal((5, 4))
    w = rng.standard_normal((4, 3))
    b = rng.standard_normal(3)
    r = rng.standard_normal((5, 3))  # random projection makes the output a scalar

    def loss():
        return float((nn.relu_forward(nn.dense_forward(x, w, b)) * r).sum())

    out = nn.relu_forward(nn.dense_forward(x, w, b))
    d_pre = nn.relu_backward(out, r)
    d_x, d_w, d_b = nn.dense_backward(x, w, d_pre)
    assert_close(d_x, numeric_grad(loss, x))
    assert_close(d_w, numeric_grad(loss, w))
    assert_close(d_b, numeric_grad(loss, b))


def test_mlp_gradients(rng):
    params = nn.mlp_init(rng, [4, 6, 5, 3], "m_", dtype=np.float64)
    for name in params:  # zero biases would put rows with all-dead inputs exactly on ReLU's kink
        if "_b" in name:
            params[name] += rng.standard_normal(params[name].shape)
    x = rng.standard_normal((7, 4))
    r = rng.standard_normal((7, 3))

    def loss():
        return float((nn.mlp_forward(params, "m_", 3, x)[0] * r).sum())

    _, acts = nn.mlp_forward(params, "m_", 3, x)
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    d_x = nn.mlp_backward(params, "m_", 3, acts, r, grads)
    assert_close(d_x, numeric_grad(loss, x))
    for name in params:
        assert_close(grads[name], numeric_grad(loss, params[name]))


def test_embedding_bag_is_mean_and_gradient(rng):
    table = rng.standard_normal((6, 3))
    rows = sp.csr_matrix(np.array([[1, 0, 1, 0, 0, 1], [0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0]]))
    bags = nn.bag_matrix(rows, np.float64)
    out = nn.embedding_bag_forward(bags, table)
    np.testing.assert_allclose(out[0], table[[0, 2, 5]].mean(axis=0))
    np.testing.assert_allclose(out[1], 0)
    root_n = nn.embedding_bag_forward(nn.bag_matrix(rows, np.float64, "sqrt"), table)
    np.testing.assert_allclose(root_n[0], table[[0, 2, 5]].sum(axis=0) / np.sqrt(3))
    np.testing.assert_allclose(root_n[2], table[1])
    r = rng.standard_normal(out.shape)

    def loss():
        return float((nn.embedding_bag_forward(bags, table) * r).sum())

    assert_close(nn.embedding_bag_backward(bags, r), numeric_grad(loss, table))


def test_embedding_lookup_gradient_sums_repeats(rng):
    table = rng.standard_normal((5, 2))
    idx = np.array([1, 3, 1, 0])
    r = rng.standard_normal((4, 2))

    def loss():
        return float((table[idx] * r).sum())

    assert_close(nn.embedding_lookup_backward(idx, r, 5), numeric_grad(loss, table))


@pytest.mark.parametrize("sparse_targets", [False, True])
def test_softmax_cross_entropy_gradient(rng, sparse_targets):
    logits = rng.standard_normal((4, 6))
    w = np.zeros((4, 6))
    w[0, 1] = w[0, 3] = 0.2
    w[1, 0] = 0.3
    w[3, 5] = 0.3
    target = sp.csr_matrix(w) if sparse_targets else w
    loss, grad = nn.softmax_cross_entropy(logits, target)
    expected = -(w * nn.log_softmax(logits)).sum()
    assert loss == pytest.approx(expected)
    assert_close(grad, numeric_grad(lambda: nn.softmax_cross_entropy(logits, target)[0], logits))


def test_softmax_cross_entropy_survives_huge_and_masked_logits():
    logits = np.array([[1000.0, -np.inf, 999.0]])
    loss, grad = nn.softmax_cross_entropy(logits, np.array([[1.0, 0, 0]]))
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    assert grad[0, 1] == 0


def test_sampled_softmax_gradient_with_log_q_and_mask(rng):
    pos = rng.standard_normal(5)
    neg = rng.standard_normal((5, 4))
    weights = rng.random(5)
    pos_q = rng.standard_normal(5)
    neg_q = rng.standard_normal(4)
    mask = rng.random((5, 4)) > 0.3

    def loss():
        return nn.sampled_softmax_cross_entropy(pos, neg, weights, pos_q, neg_q, mask)[0]

    value, d_pos, d_neg = nn.sampled_softmax_cross_entropy(pos, neg, weights, pos_q, neg_q, mask)
    assert_close(d_pos, numeric_grad(loss, pos))
    assert_close(d_neg, numeric_grad(loss, neg))
    assert np.all(d_neg[~mask] == 0)
    # Against a hand computation of one row.
    z = np.concatenate([[pos[0] - pos_q[0]], (neg[0] - neg_q)[mask[0]]])
    row0 = -(z[0] - np.log(np.exp(z).sum()))
    value0 = nn.sampled_softmax_cross_entropy(pos[:1], neg[:1], np.ones(1), pos_q[:1], neg_q,
                                              mask[:1])[0]
    assert value0 == pytest.approx(row0)


def test_grouped_sampled_softmax_equals_per_row_version(rng):
    groups = np.array([0, 0, 2, 1, 2, 2])
    pos = rng.standard_normal(6)
    neg = rng.standard_normal((3, 4))
    weights = rng.random(6)
    pos_q = rng.standard_normal(6)
    neg_q = rng.standard_normal(4)
    mask = rng.random((3, 4)) > 0.3
    mask[1] = False  # a group whose negatives are all masked
    value, d_pos, d_neg = nn.grouped_sampled_softmax_cross_entropy(pos, groups, neg, weights,
                                                                   pos_q, neg_q, mask)
    ref, ref_pos, ref_neg = nn.sampled_softmax_cross_entropy(pos, neg[groups], weights, pos_q,
                                                             neg_q, mask[groups])
    assert value == pytest.approx(ref)
    np.testing.assert_allclose(d_pos, ref_pos, atol=1e-12)
    summed = np.zeros_like(neg)
    np.add.at(summed, groups, ref_neg)
    np.testing.assert_allclose(d_neg, summed, atol=1e-12)

    def loss():
        return nn.grouped_sampled_softmax_cross_entropy(pos, groups, neg, weights, pos_q, neg_q,
                                                        mask)[0]

    assert_close(d_neg, numeric_grad(loss, neg))
    assert_close(d_pos, numeric_grad(loss, pos))


def test_positive_only_loss_gradient(rng):
    s = rng.standard_normal(6) * 3
    value, grad = nn.positive_only_loss(s)
    assert value == pytest.approx(np.mean(np.log1p(np.exp(-s))))
    assert_close(grad, numeric_grad(lambda: nn.positive_only_loss(s)[0], s))


def test_l2_penalty_gradient(rng):
    params = {"a": rng.standard_normal((3, 2)), "b": rng.standard_normal(4)}
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    value = nn.l2_penalty(params, 0.3, grads)
    assert value == pytest.approx(0.3 * sum((v ** 2).sum() for v in params.values()))
    for name in params:
        assert_close(grads[name], numeric_grad(
            lambda: nn.l2_penalty(params, 0.3, {k: np.zeros_like(v) for k, v in params.items()}),
            params[name]))


def _tiny_matrix():
    rng = np.random.default_rng(1)
    dense = (rng.random((6, 9)) < 0.45).astype(np.float32)
    dense[:, 0] = 1
    return sp.csr_matrix(dense)


def _model_gradient_check(model):
    """Fit one epoch, switch to float64, and compare the batch gradient with finite differences."""
    matrix = _tiny_matrix()
    model.fit(matrix)
    params = {k: v.astype(np.float64) for k, v in model._params.items()}
    model.item_context_ = model.item_context_.astype(np.float64)
    model.user_features_ = model.user_features_.astype(np.float64)
    rng = np.random.default_rng(3)
    users = np.arange(matrix.shape[0])
    seen = model.seen_[users]
    inputs, targets = split_history(seen, 0.4, rng)
    negatives = model._draw_negatives(rng, params, users, inputs, targets, seen)
    _, grads = model._loss_and_grads(params, users, inputs, targets, negatives, seen)

    def loss():
        return model._loss_and_grads(params, users, inputs, targets, negatives, seen)[0]["softmax"]

    for name, value in params.items():
        assert_close(grads[name], numeric_grad(loss, value))


COMMON = dict(factors=3, hidden_layers=(4,), epochs=1, batch_size=3, random_state=0, patience=None)


@pytest.mark.parametrize("loss, negatives, tied, bias", [
    ("full", "uniform", False, False),
    ("full", "uniform", True, True),
    ("sampled", "uniform", False, True),
    ("sampled", "popularity", True, False),
    ("sampled", "hard", False, True),
    ("sampled", "in-batch", False, True),
    ("positives-only", "uniform", True, True),
])
def test_softmax_model_gradient(loss, negatives, tied, bias):
    model = SoftmaxModel(loss=loss, negatives=negatives, n_negatives=4, tie_embeddings=tied,
                         item_bias=bias, **COMMON)
    _model_gradient_check(model)


def test_softmax_model_gradient_without_hidden_layers():
    _model_gradient_check(SoftmaxModel(**{**COMMON, "hidden_layers": ()}))
