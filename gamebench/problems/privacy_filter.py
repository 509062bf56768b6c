"""The minimax privacy filter (Hamm, "Minimax Filter: Learning to Preserve Privacy from Inference
Attacks", JMLR 2017).

A filter z = g(x; u_f) maps data x in R^D to R^d; a utility classifier w and an adversary v are
multinomial logistic regressions on z. The game, on the full training set,
    min over u = (u_f, w) of max over v of
        f(u, v) = rho * L_util(u_f, w) - L_priv(u_f, v) + (lambda / 2) |u_f|^2
(L = mean cross-entropy) keeps the utility label predictable and makes the best adversary as bad as
possible. Filters: `linear` (z = x U, U in R^{D x d}) or `nn` (z = tanh(x W1 + b1) W2 + b2, one
hidden layer). The leader's block `w` is marked as an inner block (Problem.inner_u), so the Danskin
solver fits it to near optimality together with v before each filter step; every other solver
treats u = (u_f, w) as one player.

Metrics at log points: test accuracy of the in-game w (utility_acc) and v (private_acc); with
`protocol=True` also the paper's evaluation (Sec. 6), the same for every filter: freeze the filter,
standardise its training outputs, train fresh multinomial logistic regressions for the utility and
the private label on them (L-BFGS, small L2) and report their test accuracies
(protocol_utility_acc, protocol_private_acc). A good filter keeps utility accuracy high and pushes
private accuracy to chance (`info["chance"]`).

Baselines (Problem.baselines, for the `baseline` solver; linear, d orthonormal directions
U in R^{D x d}, z = x U; the untrained random orthonormal filter is the `initial` baseline):
    pca     the top d principal directions of the training data
    ppls    privacy partial least squares: the top d eigenvectors of
            C_u C_u' - C_p C_p',  C = X' Y / n with centred X and centred one-hot labels Y,
            i.e. maximise sum Cov(u'x, y_util)^2 - Cov(u'x, y_priv)^2 over orthonormal U
    plda    privacy LDA: the top d generalised eigenvectors of S_b(util) u = l (S_b(priv) + g I) u
            (between-class scatters; g = 1e-3 trace(S_b(priv)) / D regularises the rank-deficient
            private scatter)
They are computed in numpy from the training set when a job first needs them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gamebench.data.privacy import PRIVACY_DATASETS
from gamebench.game import Problem
from gamebench.logistic import accuracy, fit_logistic
from gamebench.nn import cross_entropy, orthogonal
from gamebench.params import Param, above, at_least, one_of

FILTERS = ("linear", "nn")
PRIVACY_BASELINES = ("pca", "ppls", "plda")
PROTOCOL_L2 = 1e-4  # ridge of the protocol's fresh classifiers
DATASETS = tuple(PRIVACY_DATASETS)  # genki: smile vs gender faces; har: activity vs subject

# the config fields make_privacy_filter_from_dataset reads (gamebench.params)
PARAMS = {
    "dataset": Param(
        "genki",
        "genki: smile (utility) vs gender (private); har: activity vs subject",
        one_of(*DATASETS),
    ),
    "filter": Param("linear", "linear: z = x U; nn: one tanh hidden layer", one_of(*FILTERS)),
    "d": Param(10, "filter output dimension", at_least(1)),
    "rho": Param(10.0, "weight of the utility loss", above(0)),
    "weight_decay": Param(1.0e-3, "lambda on the filter's parameters", at_least(0)),
    "hidden": Param(50, "nn filter's hidden units", at_least(1)),
    "protocol": Param(
        False, "metrics also hold the protocol: fresh classifiers on the frozen filter"
    ),
}


def same_run(problem: dict, solver: dict) -> tuple[dict, dict, list[str]]:
    """A closed-form baseline is a linear filter: the nn filter's job computes the linear one's
    (config.effective_config)."""
    if solver["name"] != "baseline" or solver.get("baseline") == "initial":
        return problem, solver, []
    if problem["filter"] == "linear":
        return problem, solver, []
    reason = (
        f"solver.baseline={solver['baseline']!r} is a linear filter: problem.filter=nn does not "
        "change it"
    )
    return {**problem, "filter": "linear", "hidden": PARAMS["hidden"].default}, solver, [reason]


def _top_eigenvectors(matrix: np.ndarray, d: int) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return vectors[:, np.argsort(values)[::-1][:d]].astype(np.float32)


def _one_hot_centred(labels: np.ndarray, classes: int) -> np.ndarray:
    y = np.eye(classes)[labels]
    return y - y.mean(axis=0)


def between_class_scatter(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=0)
    scatter = np.zeros((x.shape[1], x.shape[1]))
    for c in np.unique(labels):
        diff = x[labels == c].mean(axis=0) - mean
        scatter += (labels == c).sum() * np.outer(diff, diff)
    return scatter / x.shape[0]


def baseline_filter(name: str, data, d: int) -> np.ndarray:
    """U (D, d) of a closed-form baseline filter, learned on data.x_train."""
    import scipy.linalg

    x = data.x_train.astype(np.float64)
    x = x - x.mean(axis=0)
    dim = x.shape[1]
    if d > dim:
        raise ValueError(f"d={d} is out of range: at most the data dimension {dim}")
    if name == "pca":
        return _top_eigenvectors(x.T @ x / x.shape[0], d)
    if name == "ppls":
        c_u = x.T @ _one_hot_centred(data.utility_train, data.utility_classes) / x.shape[0]
        c_p = x.T @ _one_hot_centred(data.private_train, data.private_classes) / x.shape[0]
        return _top_eigenvectors(c_u @ c_u.T - c_p @ c_p.T, d)
    if name == "plda":
        s_u = between_class_scatter(x, data.utility_train)
        s_p = between_class_scatter(x, data.private_train)
        ridge = 1e-3 * np.trace(s_p) / dim + 1e-9
        values, vectors = scipy.linalg.eigh(s_u, s_p + ridge * np.eye(dim))
        top = vectors[:, np.argsort(values)[::-1][:d]]
        return (top / np.linalg.norm(top, axis=0, keepdims=True)).astype(np.float32)
    raise ValueError(f"unknown baseline {name!r}; allowed: {', '.join(PRIVACY_BASELINES)}")


def protocol_accuracies(
    z_train, z_test, utility_train, utility_test, private_train, private_test, classes
) -> tuple[jax.Array, jax.Array]:
    """(utility accuracy, private accuracy) of fresh classifiers on a frozen filter's outputs; NaN
    for a filter whose outputs are not finite (a diverged run). Pure, jittable and vmappable.
    `classes` = (utility, private) class counts."""
    finite = jnp.all(jnp.isfinite(z_train)) & jnp.all(jnp.isfinite(z_test))
    z_train = jnp.where(finite, z_train, 0.0)
    z_test = jnp.where(finite, z_test, 0.0)
    mean = jnp.mean(z_train, axis=0, keepdims=True)
    std = jnp.std(z_train, axis=0, keepdims=True) + 1e-6
    z_train, z_test = (z_train - mean) / std, (z_test - mean) / std
    util = fit_logistic(z_train, utility_train, classes[0], l2=PROTOCOL_L2)
    priv = fit_logistic(z_train, private_train, classes[1], l2=PROTOCOL_L2)
    nan = jnp.float32(jnp.nan)
    return (
        jnp.where(finite, accuracy(util, z_test, utility_test), nan),
        jnp.where(finite, accuracy(priv, z_test, private_test), nan),
    )


def chance_levels(data) -> tuple[float, float]:
    """Accuracy of always predicting the most frequent training class, on the test set."""
    util = np.bincount(data.utility_train).argmax()
    priv = np.bincount(data.private_train).argmax()
    return float(np.mean(data.utility_test == util)), float(np.mean(data.private_test == priv))


def logistic_apply(params, z):
    w, b = params
    return z @ w + b[None, :]


def apply_filter(kind: str, params, x: jax.Array) -> jax.Array:
    if kind == "linear":
        return x @ params["U"]
    hidden = jnp.tanh(x @ params["W1"] + params["b1"][None, :])
    return hidden @ params["W2"] + params["b2"][None, :]


def init_filter(kind: str, key: jax.Array, dim_in: int, d: int, hidden: int):
    """Random orthonormal columns (scaled for the hidden layer's input), zero biases."""
    if kind == "linear":
        return {"U": orthogonal(key, (dim_in, d))}
    key_1, key_2 = jax.random.split(key)
    return {
        "W1": orthogonal(key_1, (dim_in, hidden)),
        "b1": jnp.zeros((hidden,), jnp.float32),
        "W2": orthogonal(key_2, (hidden, d)),
        "b2": jnp.zeros((d,), jnp.float32),
    }


def _closed_form_players(name: str, data, d: int, init_v, cache: dict):
    """key -> (u, v) of a closed-form baseline: its filter U (computed in numpy from the training
    set the first time a job asks, then kept in `cache`), a zero utility classifier, and the
    adversary's usual initialisation."""
    classes = data.utility_classes

    def players(key):
        if name not in cache:
            cache[name] = baseline_filter(name, data, d)
        u = {
            "filter": {"U": jnp.asarray(cache[name])},
            "w": (jnp.zeros((d, classes), jnp.float32), jnp.zeros((classes,), jnp.float32)),
        }
        return u, init_v(key)

    return players


def _payoff(filter: str, arrays: dict, rho: float, weight_decay: float):
    """f(u, v) = rho * utility loss - private loss + weight decay on the filter, full batch."""

    def f(u, v, batch):
        del batch
        z = apply_filter(filter, u["filter"], arrays["x"])
        utility = cross_entropy(logistic_apply(u["w"], z), arrays["y_util"])
        private = cross_entropy(logistic_apply(v, z), arrays["y_priv"])
        decay = sum(jnp.sum(jnp.square(p)) for p in jax.tree.leaves(u["filter"]))
        return rho * utility - private + 0.5 * weight_decay * decay

    return f


def _test_metrics(filter: str, arrays: dict, classes: tuple[int, int], protocol: bool):
    """metrics(u, v, key): test accuracies of the trained classifiers on the filtered data, and
    with `protocol` those of fresh classifiers fitted on the filtered training set."""

    def metrics(u, v, key):
        del key
        z = apply_filter(filter, u["filter"], arrays["x_test"])
        util = jnp.argmax(logistic_apply(u["w"], z), axis=1) == arrays["y_util_test"]
        priv = jnp.argmax(logistic_apply(v, z), axis=1) == arrays["y_priv_test"]
        out = {"utility_acc": jnp.mean(util), "private_acc": jnp.mean(priv)}
        if protocol:
            z_train = apply_filter(filter, u["filter"], arrays["x"])
            labels = [arrays[k] for k in ("y_util", "y_util_test", "y_priv", "y_priv_test")]
            fresh_util, fresh_priv = protocol_accuracies(z_train, z, *labels, classes=classes)
            out |= {"protocol_utility_acc": fresh_util, "protocol_private_acc": fresh_priv}
        return out

    return metrics


def make_privacy_filter(
    data,
    *,
    filter: str = "linear",
    d: int = 10,
    rho: float = 10.0,
    weight_decay: float = 1e-3,
    hidden: int = 50,
    protocol: bool = False,
) -> Problem:
    """The game on a `gamebench.data.privacy.PrivacyData` (or any object with its fields)."""
    if filter not in FILTERS:
        raise ValueError(f"unknown filter {filter!r}; allowed: {', '.join(FILTERS)}")
    dim_in = data.x_train.shape[1]
    arrays = {
        "x": jnp.asarray(data.x_train, jnp.float32),
        "y_util": jnp.asarray(data.utility_train, jnp.int32),
        "y_priv": jnp.asarray(data.private_train, jnp.int32),
        "x_test": jnp.asarray(data.x_test, jnp.float32),
        "y_util_test": jnp.asarray(data.utility_test, jnp.int32),
        "y_priv_test": jnp.asarray(data.private_test, jnp.int32),
    }
    classes = c_util, c_priv = data.utility_classes, data.private_classes
    closed_form: dict[str, np.ndarray] = {}  # baseline filters, computed once when first asked for

    def init_v(key):
        return (0.01 * jax.random.normal(key, (d, c_priv)), jnp.zeros((c_priv,), jnp.float32))

    def bind(arrays) -> Problem:
        def init_u(key):
            key_filter, _ = jax.random.split(key)  # w starts at zero: the inner solve fits it
            return {
                "filter": init_filter(filter, key_filter, dim_in, d, hidden),
                "w": (jnp.zeros((d, c_util), jnp.float32), jnp.zeros((c_util,), jnp.float32)),
            }

        return Problem(
            name="privacy_filter",
            f=_payoff(filter, arrays, rho, weight_decay),
            init_u=init_u,
            init_v=init_v,
            metrics=_test_metrics(filter, arrays, classes, protocol),
            headline="private_acc",
            info={
                "dataset": data.name,
                "filter": filter,
                "d": d,
                "inner_u": ("w",),
                "chance": dict(zip(("utility", "private"), chance_levels(data))),
            },
            baselines={}
            if filter != "linear"
            else {
                name: _closed_form_players(name, data, d, init_v, closed_form)
                for name in PRIVACY_BASELINES
            },
            data=arrays,
            bind=bind,
        )

    return bind(arrays)


def make_privacy_filter_from_dataset(dataset: str, **kwargs) -> Problem:
    from gamebench.data.privacy import privacy_dataset

    return make_privacy_filter(privacy_dataset(dataset), **kwargs)


def filter_output(problem: Problem, u, x: np.ndarray) -> jax.Array:
    """The learned filter applied to data x (for the evaluation protocol)."""
    return apply_filter(problem.info["filter"], u["filter"], jnp.asarray(x, jnp.float32))
