"""The numba loops of :class:`~recsys_core.models.mf.model.MatrixFactorization`: the fast SGD
epochs (observed entries, with or without the implicit-feedback term), the loss sums and the
general mini-batch trainer with its SGD/Adagrad/Adam step. Arrays are float32 and updated in
place; the model's docstring gives the objectives.
"""
from __future__ import annotations

import numba
import numpy as np

#: Adam's decay rates and the denominators' epsilon (Adagrad too).
_ADAM_BETA1, _ADAM_BETA2, _EPSILON = 0.9, 0.999, 1e-8


@numba.njit(cache=True, fastmath=True, nogil=True)
def observed_sums(users, items, values, U, V, bu, bi, mu):
    """(sum of squared errors, sum of squared embedding dot products) over observed entries."""
    sq_error = 0.0
    sq_dot = 0.0
    for k in range(values.shape[0]):
        u, i = users[k], items[k]
        dot = np.float32(0.0)
        for f in range(U.shape[1]):
            dot += U[u, f] * V[i, f]
        e = values[k] - (mu + bu[u] + bi[i] + dot)
        sq_error += e * e
        sq_dot += dot * dot
    return sq_error, sq_dot


@numba.njit(cache=True, fastmath=True, nogil=True)
def sgd_epoch(users, items, values, order, U, V, bu, bi, mu, with_bias, lr, reg, reg_bias):
    """One epoch of plain SGD on the observed objective (the default, so it gets its own loop).

    Steps are half-gradients: U_u += lr (e V_i - lambda U_u), and likewise for V_i and biases.
    """
    d = U.shape[1]
    for t in range(order.shape[0]):
        k = order[t]
        u, i = users[k], items[k]
        pred = mu + bu[u, 0] + bi[i, 0] if with_bias else np.float32(0.0)
        for f in range(d):
            pred += U[u, f] * V[i, f]
        e = values[k] - pred
        if with_bias:
            bu[u, 0] += lr * (e - reg_bias * bu[u, 0])
            bi[i, 0] += lr * (e - reg_bias * bi[i, 0])
        for f in range(d):
            uf = U[u, f]
            vf = V[i, f]
            U[u, f] += lr * (e * vf - reg * uf)
            V[i, f] += lr * (e * uf - reg * vf)


@numba.njit(cache=True, nogil=True)
def grouped_order(indptr, user_order, uniform):
    """Entry indices (int32) user by user in ``user_order``, each user's entries shuffled
    (Fisher-Yates driven by ``uniform``, floats in [0, 1) of shape (n_entries,))."""
    order = np.empty(indptr[-1], np.int32)
    t = 0
    for u in user_order:
        start, stop = indptr[u], indptr[u + 1]
        for k in range(start, stop):
            order[t + k - start] = k
        for s in range(stop - start - 1, 0, -1):
            j = int(uniform[t + s] * (s + 1))
            order[t + s], order[t + j] = order[t + j], order[t + s]
        t += stop - start
    return order


@numba.njit(cache=True, fastmath=True, nogil=True)
def sgd_implicit_epoch(indptr, users, items, values, order, U, V, Y, bu, bi, mu, with_bias,
                        lr, reg, reg_bias, reg_implicit):
    """One epoch of SGD with the implicit-feedback term; ``order`` groups each user's entries.

    The implicit part z_u = |N(u)|^(-1/2) sum_{j in N(u)} Y_j is computed once per user; the Y
    gradients of the user's entries are summed and applied after them, with the L2 shrink of
    every entry (n_u lambda_y Y_j).
    """
    d = U.shape[1]
    implicit = np.empty(d, np.float32)
    y_grad = np.empty(d, np.float32)
    n = order.shape[0]
    t = 0
    while t < n:
        u = users[order[t]]
        start, stop = indptr[u], indptr[u + 1]
        count = stop - start
        norm = np.float32(1.0 / np.sqrt(count))
        for f in range(d):
            implicit[f] = 0.0
            y_grad[f] = 0.0
        for k in range(start, stop):
            j = items[k]
            for f in range(d):
                implicit[f] += Y[j, f]
        for f in range(d):
            implicit[f] *= norm
        for s in range(t, t + count):
            k = order[s]
            i = items[k]
            pred = mu + bu[u, 0] + bi[i, 0] if with_bias else np.float32(0.0)
            for f in range(d):
                pred += V[i, f] * (U[u, f] + implicit[f])
            e = values[k] - pred
            if with_bias:
                bu[u, 0] += lr * (e - reg_bias * bu[u, 0])
                bi[i, 0] += lr * (e - reg_bias * bi[i, 0])
            for f in range(d):
                uf = U[u, f]
                vf = V[i, f]
                y_grad[f] += e * vf
                U[u, f] += lr * (e * vf - reg * uf)
                V[i, f] += lr * (e * (uf + implicit[f]) - reg * vf)
        shrink = np.float32(count) * reg_implicit
        for k in range(start, stop):
            j = items[k]
            for f in range(d):
                Y[j, f] += lr * (norm * y_grad[f] - shrink * Y[j, f])
        t += count


@numba.njit(cache=True, fastmath=True, nogil=True)
def general_chunk(users, items, values, order, U, V, bu, bi, mu, with_bias, lr, reg, reg_bias,
                   mode, all_pairs, user_share, item_share, gram_grad_u, gram_grad_v,
                   batch_size, optimizer, s1_u, s1_v, s1_bu, s1_bi, s2_u, s2_v, s2_bu, s2_bi,
                   steps_user, steps_item, g_u, g_v, g_bu, g_bi, user_mark, item_mark,
                   touched_users, touched_items):
    """Mini-batch SGD/Adagrad/Adam over ``order`` on any objective (mode 0 observed, 1 gravity,
    2 weighted). Gradients of a batch are taken at the batch's starting point and summed per
    row (half-gradients, as in :func:`sgd_epoch`)."""
    d = U.shape[1]
    n = order.shape[0]
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        n_tu = 0
        n_ti = 0
        for t in range(start, stop):
            k = order[t]
            u, i = users[k], items[k]
            dot = np.float32(0.0)
            for f in range(d):
                dot += U[u, f] * V[i, f]
            pred = dot + (mu + bu[u, 0] + bi[i, 0] if with_bias else np.float32(0.0))
            e = values[k] - pred
            if with_bias:
                g_bu[u, 0] += -e + reg_bias * bu[u, 0]
                g_bi[i, 0] += -e + reg_bias * bi[i, 0]
            if mode == 2:
                # weighted MF: the Gram term below counts this observed pair as unobserved too;
                # taking it back out here leaves w0 on the unobserved pairs only
                e += all_pairs * dot
            for f in range(d):
                g_u[u, f] += -e * V[i, f] + reg * U[u, f]
                g_v[i, f] += -e * U[u, f] + reg * V[i, f]
            if mode != 0:
                su = user_share[u]
                si = item_share[i]
                for f in range(d):
                    g_u[u, f] += su * gram_grad_u[u, f]
                    g_v[i, f] += si * gram_grad_v[i, f]
            if not user_mark[u]:
                user_mark[u] = True
                touched_users[n_tu] = u
                n_tu += 1
            if not item_mark[i]:
                item_mark[i] = True
                touched_items[n_ti] = i
                n_ti += 1
        for a in range(n_tu):
            u = touched_users[a]
            user_mark[u] = False
            steps_user[u] += 1
            step_row(U, g_u, s1_u, s2_u, u, steps_user[u], optimizer, lr)
            if with_bias:
                step_row(bu, g_bu, s1_bu, s2_bu, u, steps_user[u], optimizer, lr)
        for a in range(n_ti):
            i = touched_items[a]
            item_mark[i] = False
            steps_item[i] += 1
            step_row(V, g_v, s1_v, s2_v, i, steps_item[i], optimizer, lr)
            if with_bias:
                step_row(bi, g_bi, s1_bi, s2_bi, i, steps_item[i], optimizer, lr)


@numba.njit(cache=True, fastmath=True, nogil=True)
def step_row(P, G, S1, S2, row, step, optimizer, lr):
    """Apply the summed gradient G[row] to P[row] with the chosen optimizer; zero G[row].

    This is the same SGD / Adagrad / Adam arithmetic as the optimizer classes of
    :mod:`recsys_core.models.neural.layers`, deliberately not shared with them: it runs inside
    a numba loop, one touched row at a time, with a per-row step count (a lazy, sparse Adam:
    only rows with a gradient in the mini-batch move), whereas those classes update whole
    dense NumPy arrays once per batch from Python. Calling a Python object per row would undo
    the kernel's speed.
    """
    width = P.shape[1]
    if optimizer == 0:
        for f in range(width):
            P[row, f] -= lr * G[row, f]
            G[row, f] = 0.0
    elif optimizer == 1:
        for f in range(width):
            g = G[row, f]
            S1[row, f] += g * g
            P[row, f] -= lr * g / (np.sqrt(S1[row, f]) + _EPSILON)
            G[row, f] = 0.0
    else:
        correction1 = 1.0 - _ADAM_BETA1 ** step
        correction2 = 1.0 - _ADAM_BETA2 ** step
        for f in range(width):
            g = G[row, f]
            S1[row, f] = _ADAM_BETA1 * S1[row, f] + (1.0 - _ADAM_BETA1) * g
            S2[row, f] = _ADAM_BETA2 * S2[row, f] + (1.0 - _ADAM_BETA2) * g * g
            P[row, f] -= lr * (S1[row, f] / correction1) / (np.sqrt(S2[row, f] / correction2)
                                                              + _EPSILON)
            G[row, f] = 0.0
