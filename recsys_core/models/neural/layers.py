"""Small NumPy building blocks for the neural recommenders, each with its analytic gradient.

Everything here works on mini-batches (rows are examples) and keeps the dtype of its inputs, so
the models train in float32 while the tests check every gradient by finite differences in float64.
Layers are pure functions: ``*_forward`` returns the output, ``*_backward`` takes the upstream
gradient and returns the gradients of the inputs and parameters. Optimizers update a dict of
parameter arrays in place.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from ...errors import HyperparameterError

OPTIMIZERS = ("sgd", "adagrad", "adam")
POOLINGS = ("mean", "sqrt")


# ---------------------------------------------------------------------------- initialisation
def he_normal(rng: np.random.Generator, fan_in: int, fan_out: int, dtype=np.float32) -> np.ndarray:
    """Weights of shape (fan_in, fan_out) for a layer followed by ReLU: N(0, 2 / fan_in)."""
    std = np.sqrt(2.0 / max(1, fan_in))
    return (rng.standard_normal((fan_in, fan_out)) * std).astype(dtype)


def glorot_uniform(rng: np.random.Generator, fan_in: int, fan_out: int, dtype=np.float32
                   ) -> np.ndarray:
    """Weights of shape (fan_in, fan_out) for a linear layer: U(-a, a), a = sqrt(6/(in+out))."""
    limit = np.sqrt(6.0 / max(1, fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out)).astype(dtype)


def normal_embeddings(rng: np.random.Generator, n: int, dim: int, std: float, dtype=np.float32
                      ) -> np.ndarray:
    """An (n, dim) embedding table drawn from N(0, std^2)."""
    return (rng.standard_normal((n, dim)) * std).astype(dtype)


# ---------------------------------------------------------------------------- layers
def dense_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Affine layer: (n, in) @ (in, out) + (out,) -> (n, out)."""
    return x @ weight + bias


def dense_backward(x: np.ndarray, weight: np.ndarray, grad_out: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (d_x (n, in), d_weight (in, out), d_bias (out,)) of an affine layer."""
    return grad_out @ weight.T, x.T @ grad_out, grad_out.sum(axis=0)


def relu_forward(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def relu_backward(out: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
    """Gradient through ReLU given its *output* (positive where the unit was active)."""
    return grad_out * (out > 0)


def bag_matrix(rows: sp.csr_matrix, dtype=np.float32, pooling: str = "mean") -> sp.csr_matrix:
    """Pooling weights of bags of items: a copy of a binary CSR (n_bags, n_items), rescaled.

    ``pooling="mean"`` divides each row by its count n (rows sum to 1: the mean embedding);
    ``"sqrt"`` divides by sqrt(n), so longer histories give longer query vectors (the input
    normalisation of Mult-DAE/VAE). Empty rows stay empty (a zero embedding).
    """
    if pooling not in POOLINGS:
        raise HyperparameterError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    m = sp.csr_matrix(rows, dtype=dtype, copy=True)
    m.data[:] = 1
    counts = np.diff(m.indptr)
    scale = np.maximum(counts, 1).astype(np.float64)
    if pooling == "sqrt":
        scale = np.sqrt(scale)
    m.data /= np.repeat(scale, counts).astype(dtype)
    return m


def embedding_bag_forward(bags: sp.csr_matrix, table: np.ndarray) -> np.ndarray:
    """Weighted sum of embedding rows per bag: sparse (n_bags, n_items) @ (n_items, d).

    With :func:`bag_matrix` weights this is the mean of each bag's item embeddings (zero for an
    empty bag).
    """
    return np.asarray(bags @ table, dtype=table.dtype)


def embedding_bag_backward(bags: sp.csr_matrix, grad_out: np.ndarray) -> np.ndarray:
    """Gradient (n_items, d) of the embedding table: bags^T @ grad_out, one sparse product."""
    return np.asarray(bags.T @ grad_out, dtype=grad_out.dtype)


def embedding_lookup_backward(indices: np.ndarray, grad_out: np.ndarray, n_rows: int) -> np.ndarray:
    """Gradient (n_rows, d) of ``table[indices]``: rows scattered and summed over repeats.

    Done as one sparse product (n_rows, n) @ (n, d), several times faster than np.add.at.
    """
    indices = np.asarray(indices, dtype=np.int64).ravel()
    ones = np.ones(len(indices), grad_out.dtype)
    scatter = sp.csr_matrix((ones, (indices, np.arange(len(indices)))),
                            shape=(n_rows, len(indices)))
    return np.asarray(scatter @ grad_out, dtype=grad_out.dtype)


# ---------------------------------------------------------------------------- losses
def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax, stable for large logits and for -inf entries (masked classes)."""
    shift = logits.max(axis=1, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0)
    z = logits - shift
    with np.errstate(divide="ignore"):
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def softmax_cross_entropy(logits: np.ndarray, target_weights) -> tuple[float, np.ndarray]:
    """Full softmax cross-entropy with several weighted targets per row.

    Parameters
    ----------
    logits : ndarray, shape (n, n_classes)
    target_weights : ndarray or sparse matrix, shape (n, n_classes), non-negative
        Weight of each (row, target class) term; the loss is
        ``-sum_{r, c} w[r, c] * log softmax(logits[r])[c]``. Weights 1/P over P (row, target)
        pairs give the mean cross-entropy per pair.

    Returns
    -------
    loss : float
    grad : ndarray, shape like ``logits``; ``softmax * rowsum(w) - w``.
    """
    logp = log_softmax(logits)
    if sp.issparse(target_weights):
        w = sp.csr_matrix(target_weights)
        rows = np.repeat(np.arange(w.shape[0]), np.diff(w.indptr))
        loss = -float(np.dot(w.data, logp[rows, w.indices]))
        grad = np.exp(logp) * np.asarray(w.sum(axis=1), dtype=logits.dtype).reshape(-1, 1)
        np.add.at(grad, (rows, w.indices), -w.data.astype(logits.dtype))
    else:
        w = np.asarray(target_weights, dtype=logits.dtype)
        loss = -float((w * np.where(w > 0, logp, 0)).sum())
        grad = np.exp(logp) * w.sum(axis=1, keepdims=True) - w
    return loss, grad.astype(logits.dtype, copy=False)


def sampled_softmax_cross_entropy(positive_logits: np.ndarray, negative_logits: np.ndarray,
                                  weights: np.ndarray | None = None,
                                  positive_log_q: np.ndarray | None = None,
                                  negative_log_q: np.ndarray | None = None,
                                  negative_mask: np.ndarray | None = None
                                  ) -> tuple[float, np.ndarray, np.ndarray]:
    """Softmax cross-entropy of each positive against its sampled negatives.

    Parameters
    ----------
    positive_logits : ndarray, shape (P,)
    negative_logits : ndarray, shape (P, K)
    weights : ndarray, shape (P,), optional
        Weight of each row's term (default 1/P: the mean over rows).
    positive_log_q, negative_log_q : ndarray, shapes (P,) and (P, K) or (K,), optional
        Log of each class's expected count in the sample; subtracted from the logits (the log-Q
        correction), which makes the sampled loss an unbiased-in-the-limit estimate of the full
        softmax when negatives are not drawn uniformly.
    negative_mask : bool ndarray, shape (P, K), optional
        False for negatives to ignore (accidental hits: a sampled item that is a positive).

    Returns
    -------
    loss : float
    grad_positive : ndarray, shape (P,)
    grad_negative : ndarray, shape (P, K)
    """
    n = positive_logits.shape[0]
    dtype = positive_logits.dtype
    w = np.full(n, 1.0 / max(n, 1), dtype=dtype) if weights is None else weights.astype(dtype)
    pos = positive_logits if positive_log_q is None else positive_logits - positive_log_q
    neg = negative_logits if negative_log_q is None else negative_logits - negative_log_q
    if negative_mask is not None:
        neg = np.where(negative_mask, neg, -np.inf)
    logits = np.concatenate([pos[:, None], neg], axis=1).astype(dtype, copy=False)
    logp = log_softmax(logits)
    loss = -float(np.dot(w, logp[:, 0]))
    grad = np.exp(logp) * w[:, None]
    grad[:, 0] -= w
    return loss, grad[:, 0], grad[:, 1:]


def grouped_sampled_softmax_cross_entropy(positive_logits: np.ndarray, group_of_row: np.ndarray,
                                          group_negative_logits: np.ndarray,
                                          weights: np.ndarray | None = None,
                                          positive_log_q: np.ndarray | None = None,
                                          negative_log_q: np.ndarray | None = None,
                                          negative_mask: np.ndarray | None = None
                                          ) -> tuple[float, np.ndarray, np.ndarray]:
    """:func:`sampled_softmax_cross_entropy` when rows share their negatives by group.

    Every row (a held-out positive) of group g (its user) is contrasted with the same K negatives
    ``group_negative_logits[g]``. The negatives' log-sum-exp is computed once per group, so the
    cost is O(G*K + P) instead of O(P*K); the result equals the per-row function applied to
    ``group_negative_logits[group_of_row]``.

    Parameters
    ----------
    positive_logits : ndarray (P,)
    group_of_row : int ndarray (P,)
    group_negative_logits : ndarray (G, K)
    weights, positive_log_q : ndarray (P,), optional
    negative_log_q : ndarray (G, K) or (K,), optional
    negative_mask : bool ndarray (G, K), optional

    Returns
    -------
    loss : float
    grad_positive : ndarray (P,)
    grad_negative : ndarray (G, K)
    """
    n = positive_logits.shape[0]
    dtype = positive_logits.dtype
    w = np.full(n, 1.0 / max(n, 1), dtype=dtype) if weights is None else weights.astype(dtype)
    pos = positive_logits if positive_log_q is None else positive_logits - positive_log_q
    neg = group_negative_logits
    if negative_log_q is not None:
        neg = neg - negative_log_q
    if negative_mask is not None:
        neg = np.where(negative_mask, neg, -np.inf)
    neg_lse = _logsumexp_rows(neg)  # per group; -inf when every negative is masked
    row_lse = np.logaddexp(pos, neg_lse[group_of_row])
    loss = -float(np.dot(w, pos - row_lse))
    grad_pos = w * (np.exp(pos - row_lse) - 1)
    # d loss / d neg[g, k] = softmax_g(neg)[k] * sum_{rows of g} w * exp(neg_lse[g] - row_lse)
    share = np.bincount(group_of_row, weights=w * np.exp(neg_lse[group_of_row] - row_lse),
                        minlength=neg.shape[0]).astype(dtype)
    finite = np.isfinite(neg_lse)
    grad_neg = np.zeros_like(neg)
    grad_neg[finite] = np.exp(neg[finite] - neg_lse[finite, None]) * share[finite, None]
    return loss, grad_pos.astype(dtype, copy=False), grad_neg


def _logsumexp_rows(x: np.ndarray) -> np.ndarray:
    """log sum exp of each row; -inf for a row that is all -inf."""
    shift = x.max(axis=1) if x.shape[1] else np.full(x.shape[0], -np.inf, x.dtype)
    safe = np.where(np.isfinite(shift), shift, 0)
    with np.errstate(divide="ignore"):
        return np.log(np.exp(x - safe[:, None]).sum(axis=1)) + safe


def positive_only_loss(positive_logits: np.ndarray, weights: np.ndarray | None = None
                       ) -> tuple[float, np.ndarray]:
    """Logistic loss on positives alone, ``-mean log sigmoid(s)``: nothing pushes items apart.

    This is the objective that exhibits *folding*: unrelated groups of items can share one
    region of the embedding space because no negative ever says they should not.

    Returns
    -------
    loss : float
    grad : ndarray, shape (P,)
    """
    n = positive_logits.shape[0]
    w = np.full(n, 1.0 / max(n, 1), dtype=positive_logits.dtype) if weights is None else weights
    # -log sigmoid(s) = softplus(-s), computed stably.
    loss = float(np.dot(w, np.logaddexp(0, -positive_logits)))
    grad = -w * expit(-positive_logits)
    return loss, grad.astype(positive_logits.dtype, copy=False)


def l2_penalty(params: dict[str, np.ndarray], strength: float, grads: dict[str, np.ndarray],
               names=None) -> float:
    """Add ``strength * ||p||^2`` of the named parameters to the loss; gradients added in place.

    Returns the penalty value.
    """
    if strength == 0:
        return 0.0
    total = 0.0
    for name in (params if names is None else names):
        p = params[name]
        total += float(np.vdot(p, p))
        grads[name] += (2 * strength) * p
    return strength * total


# ---------------------------------------------------------------------------- optimizers
class Optimizer(ABC):
    """Base class: ``step(params, grads)`` updates every array of ``params`` in place.

    Matrix factorization (:mod:`recsys_core.models.mf.kernels`, ``step_row``) applies the same
    three rules row by row inside its numba kernels; see there why it cannot use these classes.
    """

    def __init__(self, learning_rate: float):
        if not (np.isfinite(learning_rate) and learning_rate > 0):
            raise HyperparameterError(f"learning_rate must be > 0, got {learning_rate!r}")
        self.learning_rate = learning_rate
        self.state: dict[str, tuple[np.ndarray, ...]] = {}
        self.steps = 0

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.steps += 1
        for name, g in grads.items():
            self._update(name, params[name], g)

    @abstractmethod
    def _update(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        """Update parameter ``p`` (named ``name``, for per-parameter state) from gradient ``g``."""


class SGD(Optimizer):
    """Plain gradient descent: p -= lr * g."""

    def _update(self, name, p, g):
        p -= np.asarray(self.learning_rate, dtype=p.dtype) * g


class Adagrad(Optimizer):
    """Adagrad: per-coordinate steps lr / sqrt(sum of squared gradients + eps)."""

    def __init__(self, learning_rate: float, eps: float = 1e-8, initial_accumulator: float = 0.1):
        super().__init__(learning_rate)
        self.eps = eps
        self.initial_accumulator = initial_accumulator

    def _update(self, name, p, g):
        if name not in self.state:
            self.state[name] = (np.full_like(p, self.initial_accumulator),)
        (acc,) = self.state[name]
        acc += g * g
        p -= np.asarray(self.learning_rate, dtype=p.dtype) * g / (np.sqrt(acc) + self.eps)


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction."""

    def __init__(self, learning_rate: float, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8):
        super().__init__(learning_rate)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def _update(self, name, p, g):
        if name not in self.state:
            self.state[name] = (np.zeros_like(p), np.zeros_like(p))
        m, v = self.state[name]
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * (g * g)
        t = self.steps
        step = self.learning_rate * np.sqrt(1 - self.beta2 ** t) / (1 - self.beta1 ** t)
        p -= np.asarray(step, dtype=p.dtype) * m / (np.sqrt(v) + self.eps)


def make_optimizer(name: str, learning_rate: float) -> Optimizer:
    """An optimizer by name: "sgd", "adagrad" or "adam"."""
    classes = {"sgd": SGD, "adagrad": Adagrad, "adam": Adam}
    if name not in classes:
        raise HyperparameterError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    return classes[name](learning_rate)


# ---------------------------------------------------------------------------- multilayer perceptron
def mlp_init(rng: np.random.Generator, widths: list[int], prefix: str, dtype=np.float32
             ) -> dict[str, np.ndarray]:
    """Parameters of an MLP with layer sizes ``widths`` = [in, hidden..., out].

    Hidden layers (all but the last) use He initialisation for ReLU; the last layer is linear
    (Glorot). Names are ``{prefix}W{i}`` and ``{prefix}b{i}``.
    """
    params = {}
    n_layers = len(widths) - 1
    for i in range(n_layers):
        init = glorot_uniform if i == n_layers - 1 else he_normal
        params[f"{prefix}W{i}"] = init(rng, widths[i], widths[i + 1], dtype)
        params[f"{prefix}b{i}"] = np.zeros(widths[i + 1], dtype=dtype)
    return params


def mlp_forward(params: dict[str, np.ndarray], prefix: str, n_layers: int, x: np.ndarray
                ) -> tuple[np.ndarray, list[np.ndarray]]:
    """ReLU hidden layers then a linear output; returns (output, activations for backward)."""
    activations = [x]
    h = x
    for i in range(n_layers):
        h = dense_forward(h, params[f"{prefix}W{i}"], params[f"{prefix}b{i}"])
        if i < n_layers - 1:
            h = relu_forward(h)
        activations.append(h)
    return h, activations


def mlp_backward(params: dict[str, np.ndarray], prefix: str, n_layers: int,
                 activations: list[np.ndarray], grad_out: np.ndarray,
                 grads: dict[str, np.ndarray]) -> np.ndarray:
    """Back-propagate through :func:`mlp_forward`; parameter gradients are added to ``grads``.

    Returns the gradient of the MLP's input.
    """
    g = grad_out
    for i in reversed(range(n_layers)):
        if i < n_layers - 1:
            g = relu_backward(activations[i + 1], g)
        g, d_w, d_b = dense_backward(activations[i], params[f"{prefix}W{i}"], g)
        grads[f"{prefix}W{i}"] += d_w
        grads[f"{prefix}b{i}"] += d_b
    return g
