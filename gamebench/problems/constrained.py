"""Constrained learning as a min-max game on the Lagrangian (S. Lu; Cotter et al., JMLR 2019;
Cooper, Gallego-Posada et al. 2025): min_u objective(u) s.t. c_i(u) <= 0, solved by primal-dual
methods with a dual player lambda >= 0.

    leader    u = (w, b), a logistic regression
    follower  v = lambda in R^m, projected onto lambda >= 0 after every step
    formulation = lagrangian:  f(u, lambda) = objective(u) + lambda . c(u)
    formulation = augmented:   f(u, lambda) = objective(u)
                                   + (1 / 2 rho) sum_i [max(0, lambda_i + rho c_i(u))^2 - lambda_i^2]
                               (the augmented Lagrangian of inequality constraints; one dual
                               gradient step of size rho is the method of multipliers' update
                               lambda <- max(0, lambda + rho c(u)))
    formulation = penalty:     f(u, lambda) = objective(u) + (penalty / 2) sum_i max(0, c_i(u))^2
                               (a fixed quadratic penalty: lambda does not enter; penalty = 0 is
                               the unconstrained fit)

The zero-sum game's follower maximises f, so GDA, alternating GDA, extragradient and optimistic
GDA are the simultaneous, alternating, extrapolated and optimistic primal-dual updates; alt_gda on
the augmented formulation with the dual step rho is the augmented-Lagrangian method.

The leader sees the rates inside c through a smooth surrogate (the mean sigmoid of the score over a
group); with proxy = true (Cotter et al.'s proxy-Lagrangian, a general-sum game: Problem.g) the
dual player sees the thresholded rates the constraint is about, so lambda grows until the real
constraint holds, not only its surrogate (with the surrogate alone the fairness fit ended with a
thresholded parity gap of .17 at a bound of .05). `violation` is the thresholded constraint's.

Tasks (full batch, the training set as given):
- `fairness` on GENKI faces: predict smile from the 256 pixels; constraint: the demographic-parity
  gap |P(yhat = 1 | gender 0) - P(yhat = 1 | gender 1)| <= bound (two inequalities). The training
  set is subsampled so that smiling correlates with gender (P(smile | gender 1) = 0.5 + skew and
  0.5 - skew for gender 0, dropping examples, seed `data_seed`): an unconstrained fit then uses
  gender as a proxy. The 200 test faces are balanced as distributed.
- `neyman_pearson` on MNIST digits `positive` vs `negative`: minimise the logistic loss on the
  positives (missed detections) s.t. the false-positive rate on the negatives <= bound.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gamebench.game import Problem
from gamebench.params import Param, at_least, one_of, within

TASKS = ("fairness", "neyman_pearson")
FORMULATIONS = ("lagrangian", "augmented", "penalty")

PARAMS = {
    "task": Param("fairness", "the constrained task", one_of(*TASKS)),
    "formulation": Param("lagrangian", "the game on the constraint", one_of(*FORMULATIONS)),
    "bound": Param(
        0.05, "the constraint's bound: parity gap (fairness) or false-positive rate (NP)",
        within(0, 1),
    ),
    "rho": Param(1.0, "augmented: the quadratic term's weight", at_least(0)),
    "penalty": Param(0.0, "penalty: the fixed weight (0: unconstrained fit)", at_least(0)),
    "l2": Param(1.0e-3, "ridge on w in the objective", at_least(0)),
    "proxy": Param(
        True, "the dual player sees the thresholded rates (proxy-Lagrangian); false: the surrogate"
    ),
    "skew": Param(0.25, "fairness: P(smile | gender) = 0.5 +- skew in training", within(0, 0.5)),
    "data_seed": Param(0, "fairness: which training examples are dropped"),
    "positive": Param(9, "neyman_pearson: the positive digit", within(0, 9)),
    "negative": Param(4, "neyman_pearson: the negative digit", within(0, 9)),
}  # fmt: skip


def same_run(problem: dict, solver: dict) -> tuple[dict, dict, list[str]]:
    """Fields a job's task and formulation do not read are reset (config.effective_config), so a
    sweep over them runs each distinct job once."""
    unused = {"rho": problem.get("formulation") != "augmented"}
    unused["penalty"] = problem.get("formulation") != "penalty"
    fairness = problem.get("task", "fairness") == "fairness"
    for name in ("positive", "negative"):
        unused[name] = fairness
    for name in ("skew", "data_seed"):
        unused[name] = not fairness
    reasons = []
    for name, is_unused in unused.items():
        default = PARAMS[name].default
        if is_unused and name in problem and problem[name] != default:
            reasons.append(f"problem.{name}={problem[name]} has no effect on this task/formulation")
            problem = {**problem, name: default}
    return problem, solver, reasons


def skewed_subsample(y: np.ndarray, group: np.ndarray, skew: float, seed: int) -> np.ndarray:
    """Indices of a subsample where P(y = 1 | group 1) = 0.5 + skew and P(y = 1 | group 0) =
    0.5 - skew: in each group the over-represented label is kept whole and the other thinned."""
    rng = np.random.default_rng(seed)
    keep = []
    for g, favoured in ((1, 1), (0, 0)):
        major = np.flatnonzero((group == g) & (y == favoured))
        minor = np.flatnonzero((group == g) & (y != favoured))
        share = 0.5 + skew  # the favoured label's share in the group
        n_minor = min(len(minor), int(round(len(major) * (1 - share) / share)))
        keep += [major, rng.choice(minor, n_minor, replace=False)]
    return np.sort(np.concatenate(keep))


def fairness_arrays(skew: float, seed: int, root=None) -> dict:
    from gamebench.data.privacy import genki

    data = genki(root)
    idx = skewed_subsample(data.utility_train, data.private_train, skew, seed)
    return {
        "x_train": data.x_train[idx],
        "y_train": data.utility_train[idx].astype(np.float32),
        "group_train": data.private_train[idx].astype(np.float32),
        "x_test": data.x_test,
        "y_test": data.utility_test.astype(np.float32),
        "group_test": data.private_test.astype(np.float32),
    }


def neyman_pearson_arrays(positive: int, negative: int, root=None) -> dict:
    from gamebench.data import mnist

    if positive == negative:
        raise ValueError(f"positive={positive} and negative={negative}: need two different digits")
    out = {}
    for split in ("train", "test"):
        images, labels = mnist(split, root)
        chosen = (labels == positive) | (labels == negative)
        x = images[chosen].reshape(int(chosen.sum()), -1).astype(np.float32) / 255.0
        out[f"x_{split}"] = x
        out[f"y_{split}"] = (labels[chosen] == positive).astype(np.float32)
    return out


def make_constrained_from_arrays(
    task: str,
    arrays: dict,
    formulation: str = "lagrangian",
    bound: float = 0.05,
    rho: float = 1.0,
    penalty: float = 0.0,
    l2: float = 1e-3,
    proxy: bool = True,
) -> Problem:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; allowed: {', '.join(TASKS)}")
    if formulation not in FORMULATIONS:
        raise ValueError(f"unknown formulation {formulation!r}; allowed: {', '.join(FORMULATIONS)}")
    data = {k: jnp.asarray(v) for k, v in arrays.items()}
    dim = arrays["x_train"].shape[1]
    m = 2 if task == "fairness" else 1

    def bind(data) -> Problem:
        def scores(u, x):
            w, b = u
            return x @ w + b

        def log_loss(s, y):
            return jax.nn.softplus(s) - y * s

        def objective(u):
            s = scores(u, data["x_train"])
            y = data["y_train"]
            if task == "fairness":
                fit = jnp.mean(log_loss(s, y))
            else:  # missed detections: the loss on the positives
                fit = jnp.sum(y * log_loss(s, y)) / jnp.sum(y)
            return fit + 0.5 * l2 * jnp.sum(u[0] ** 2)

        def rates(s, split, smooth: bool):
            """The constrained quantities of scores s on a split: (m,) values <= bound wanted."""
            p = jax.nn.sigmoid(s) if smooth else (s > 0).astype(jnp.float32)
            if task == "fairness":
                group = data[f"group_{split}"]
                r1 = jnp.sum(group * p) / jnp.sum(group)
                r0 = jnp.sum((1 - group) * p) / jnp.sum(1 - group)
                return jnp.stack([r1 - r0, r0 - r1])
            negatives = 1 - data[f"y_{split}"]
            return jnp.stack([jnp.sum(negatives * p) / jnp.sum(negatives)])

        def constraints(u, smooth=True):
            return rates(scores(u, data["x_train"]), "train", smooth) - bound

        def payoff(u, lam, c):
            if formulation == "lagrangian":
                return objective(u) + jnp.dot(lam, c)
            if formulation == "augmented":
                shifted = jnp.maximum(0.0, lam + rho * c)
                return objective(u) + jnp.sum(shifted**2 - lam**2) / (2 * rho)
            return objective(u) + 0.5 * penalty * jnp.sum(jnp.maximum(0.0, c) ** 2)

        def f(u, lam, batch):
            del batch
            return payoff(u, lam, constraints(u))

        def g(u, lam, batch):
            """The dual player's loss: -payoff at the thresholded rates (proxy-Lagrangian)."""
            del batch
            return -payoff(u, lam, constraints(u, smooth=False))

        def metrics(u, lam, key):
            del key
            values = {
                "objective": objective(u),
                "violation": jnp.maximum(0.0, jnp.max(constraints(u, smooth=False))),
                "smooth_violation": jnp.maximum(0.0, jnp.max(constraints(u))),
                "lambda_max": jnp.max(lam),
            }
            for split in ("train", "test"):
                s = scores(u, data[f"x_{split}"])
                y = data[f"y_{split}"]
                hard = rates(s, split, smooth=False)
                values[f"{split}_acc"] = jnp.mean((s > 0) == (y > 0.5))
                if task == "fairness":
                    values[f"{split}_parity_gap"] = jnp.abs(hard[0])
                else:
                    values[f"{split}_fpr"] = hard[0]
                    values[f"{split}_fnr"] = jnp.sum(y * (s <= 0)) / jnp.sum(y)
            return values

        return Problem(
            name="constrained",
            f=f,
            g=g if proxy else None,
            init_u=lambda key: (1e-3 * jax.random.normal(key, (dim,)), jnp.zeros(())),
            init_v=lambda key: jnp.zeros((m,)),
            project_v=lambda lam: jnp.maximum(lam, 0.0),
            metrics=metrics,
            headline="objective",
            info={"task": task, "constraints": m},
            data=data,
            bind=bind,
        )

    return bind(data)


def make_constrained(
    task: str = "fairness",
    formulation: str = "lagrangian",
    bound: float = 0.05,
    rho: float = 1.0,
    penalty: float = 0.0,
    l2: float = 1e-3,
    proxy: bool = True,
    skew: float = 0.25,
    data_seed: int = 0,
    positive: int = 9,
    negative: int = 4,
) -> Problem:
    if task == "fairness":
        arrays = fairness_arrays(skew, data_seed)
    elif task == "neyman_pearson":
        arrays = neyman_pearson_arrays(positive, negative)
    else:
        raise ValueError(f"unknown task {task!r}; allowed: {', '.join(TASKS)}")
    return make_constrained_from_arrays(task, arrays, formulation, bound, rho, penalty, l2, proxy)
