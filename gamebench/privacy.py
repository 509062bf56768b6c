"""Privacy filters: the baselines, the evaluation protocol and the trade-off figure.

Every filter is a map R^D -> R^d learned on the training set. The protocol (identical for every
filter, Hamm JMLR 2017 Sec. 6): freeze the filter, standardise its training outputs, train fresh
multinomial logistic regressions for the utility and the private label on them (L-BFGS, small L2),
and report their test accuracies. A good filter keeps utility accuracy high and pushes private
accuracy to chance.

Baselines (linear, d orthonormal directions U in R^{D x d}, z = x U):
    random  a uniformly random orthonormal basis
    pca     the top d principal directions of the training data
    ppls    privacy partial least squares: the top d eigenvectors of
            C_u C_u' - C_p C_p',  C = X' Y / n with centred X and centred one-hot labels Y,
            i.e. maximise sum Cov(u'x, y_util)^2 - Cov(u'x, y_priv)^2 over orthonormal U
    plda    privacy LDA: the top d generalised eigenvectors of S_b(util) u = l (S_b(priv) + g I) u
            (between-class scatters; g = 1e-3 trace(S_b(priv)) / D regularises the rank-deficient
            private scatter)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from gamebench.logistic import accuracy, fit_logistic

BASELINES = ("random", "pca", "ppls", "plda")
L2 = 1e-4


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


def baseline_filter(name: str, data, d: int, seed: int = 0) -> np.ndarray:
    """U (D, d) of a baseline filter, learned on data.x_train."""
    x = data.x_train.astype(np.float64)
    x = x - x.mean(axis=0)
    dim = x.shape[1]
    if d > dim:
        raise ValueError(f"d={d} is out of range: at most the data dimension {dim}")
    if name == "random":
        q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, d)))
        return q.astype(np.float32)
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
    raise ValueError(f"unknown baseline {name!r}; allowed: {', '.join(BASELINES)}")


def protocol_accuracies(
    z_train, z_test, utility_train, utility_test, private_train, private_test, classes
) -> tuple[jax.Array, jax.Array]:
    """(utility accuracy, private accuracy) of fresh classifiers on a frozen filter's outputs.

    Pure and jittable; vmap it over trials of filtered data. `classes` = (utility, private) counts.
    """
    mean = jnp.mean(z_train, axis=0, keepdims=True)
    std = jnp.std(z_train, axis=0, keepdims=True) + 1e-6
    z_train, z_test = (z_train - mean) / std, (z_test - mean) / std
    util = fit_logistic(z_train, utility_train, classes[0], l2=L2)
    priv = fit_logistic(z_train, private_train, classes[1], l2=L2)
    return accuracy(util, z_test, utility_test), accuracy(priv, z_test, private_test)


def evaluate_filters(
    data, z_train: np.ndarray, z_test: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Protocol accuracies for a stack of filtered datasets: z_* shaped (filters, n, d)."""
    classes = (data.utility_classes, data.private_classes)
    labels = [
        jnp.asarray(a, jnp.int32)
        for a in (data.utility_train, data.utility_test, data.private_train, data.private_test)
    ]
    run = jax.jit(
        jax.vmap(lambda a, b: protocol_accuracies(a, b, *labels, classes=classes), in_axes=(0, 0))
    )
    util, priv = run(jnp.asarray(z_train, jnp.float32), jnp.asarray(z_test, jnp.float32))
    return np.asarray(util), np.asarray(priv)


def chance_levels(data) -> tuple[float, float]:
    """Accuracy of always predicting the most frequent training class, on the test set."""
    util = np.bincount(data.utility_train).argmax()
    priv = np.bincount(data.private_train).argmax()
    return float(np.mean(data.utility_test == util)), float(np.mean(data.private_test == priv))


def tradeoff_figure(table, chance: dict[str, tuple[float, float]]):
    """Utility accuracy against private accuracy: one marker per (method, d), mean ± std over
    trials, one panel per dataset, chance levels dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted(table.dataset.unique())
    methods = list(dict.fromkeys(table.method))
    ds = sorted(table.d.unique())
    markers = dict(zip(ds, "os^Dvp"))
    colours = dict(zip(methods, plt.cm.tab10(np.arange(len(methods)))))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.2 * len(datasets), 4.4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        sub = table[table.dataset == dataset]
        stats = sub.groupby(["method", "d"])[["utility_acc", "private_acc"]].agg(["mean", "std"])
        for (method, d), row in stats.iterrows():
            ax.errorbar(
                row[("private_acc", "mean")],
                row[("utility_acc", "mean")],
                xerr=np.nan_to_num(row[("private_acc", "std")]),
                yerr=np.nan_to_num(row[("utility_acc", "std")]),
                marker=markers[d],
                color=colours[method],
                ms=6,
                lw=0.8,
                ls="none",
            )
        if dataset in chance:
            ax.axvline(chance[dataset][1], color="grey", ls="--", lw=1)
            ax.axhline(chance[dataset][0], color="grey", ls="--", lw=1)
        ax.set_title(f"{dataset}: better is up and left")
        ax.set_xlabel("private accuracy (adversary)")
        ax.set_ylabel("utility accuracy")
        ax.grid(alpha=0.3)
    handles = [
        plt.Line2D([], [], color=colours[m], marker="o", ls="none", label=m) for m in methods
    ]
    handles += [
        plt.Line2D([], [], color="k", marker=markers[d], ls="none", label=f"d={d}") for d in ds
    ]
    handles.append(plt.Line2D([], [], color="grey", ls="--", label="chance"))
    axes[0, -1].legend(handles=handles, fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
