"""Few-shot sinusoid regression as a bilevel problem (Finn et al., "Model-Agnostic Meta-Learning",
ICML 2017, Sec. 5.1; Rajeswaran et al., "Meta-Learning with Implicit Gradients", NeurIPS 2019).

A task is y = A sin(x - phase), A ~ U[0.1, 5], phase ~ U[0, pi], x ~ U[-5, 5]; a learner sees K
support points of a new task and must predict the rest. Every leader step draws `tasks` tasks
inside the compiled loop (K support and `query` query points each).

    leader    u: the shared initialisation of an MLP 1-hidden-hidden-1 (ReLU)
    follower  v = (delta_1 .. delta_tasks): each task's displacement, task t's model phi_t = u + delta_t
    g(u, v) = sum_t [ MSE(u + delta_t; support_t) + (prox / 2) |delta_t|^2 ]
    f(u, v) = mean_t MSE(u + delta_t; query_t)

Parametrising the follower by its displacement makes the bilevel solvers the meta-learning
methods without changing them: the follower restarts at delta = 0 every leader step
(Problem.restart_v), so T plain steps of size lr_v are MAML's inner loop from phi = u, reverse-mode
through them (rmd) is MAML's meta-gradient, rmd with truncate = 1 is close to first-order MAML, and
the implicit hypergradient grad_u f - H_ud g (H_dd g)^{-1} grad_d f = prox (H + prox I)^{-1} grad f
is iMAML's (H: the Hessian of the support loss). The sum over tasks in g keeps each task's inner
step at lr_v. `standard_training` on this problem (the follower held at 0) is the usual baseline:
one model trained on all tasks.

Metrics, on `eval_tasks` new tasks fixed by eval_seed (the same for every method): the query MSE
before adaptation, after one and after `adapt_steps` plain gradient steps of size adapt_lr on the
K support points (every method adapts the same way at test time).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from gamebench.game import Problem
from gamebench.nn import normal_mlp_init
from gamebench.params import Param, above, at_least, one_of

AMPLITUDE = (0.1, 5.0)
PHASE = (0.0, math.pi)
X_RANGE = (-5.0, 5.0)
INIT_STD = 0.01
ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh}

PARAMS = {
    "shots": Param(10, "K: support points per task (the follower adapts on them)", at_least(1)),
    "query": Param(10, "query points per task (the leader's loss after adaptation)", at_least(1)),
    "tasks": Param(25, "tasks drawn per leader step (the meta-batch)", at_least(1)),
    "hidden": Param(40, "units in each of the MLP's two hidden layers", at_least(1)),
    "activation": Param("relu", "the hidden layers' nonlinearity", one_of(*ACTIVATIONS)),
    "prox": Param(
        0.0, "iMAML's proximal weight in the follower's loss, (prox/2)|phi - u|^2", at_least(0)
    ),
    "init_decay": Param(
        0.0,
        "weight decay on the shared initialisation in the leader's loss, (c/2)|u|^2",
        at_least(0),
    ),
    "eval_tasks": Param(500, "new tasks the metrics adapt to", at_least(1)),
    "eval_points": Param(100, "held-out points per new task the metrics score", at_least(1)),
    "adapt_steps": Param(10, "test-time adaptation: gradient steps on the support", at_least(1)),
    "adapt_lr": Param(0.01, "test-time adaptation: step size", above(0)),
    "eval_seed": Param(0, "which new tasks the metrics adapt to"),
}


def _draw_tasks(key: jax.Array, n: int):
    key_a, key_p = jax.random.split(key)
    amplitude = jax.random.uniform(key_a, (n,), minval=AMPLITUDE[0], maxval=AMPLITUDE[1])
    phase = jax.random.uniform(key_p, (n,), minval=PHASE[0], maxval=PHASE[1])
    return amplitude, phase


def _points(key: jax.Array, amplitude, phase, n: int):
    """n points of each task: x (tasks, n), y (tasks, n)."""
    x = jax.random.uniform(key, (amplitude.shape[0], n), minval=X_RANGE[0], maxval=X_RANGE[1])
    return x, amplitude[:, None] * jnp.sin(x - phase[:, None])


def predict(params, x: jax.Array, activation: str = "relu") -> jax.Array:
    """The MLP on scalar inputs: x (n,) -> (n,)."""
    h = x[:, None]
    for w, b in params[:-1]:
        h = ACTIVATIONS[activation](h @ w + b[None, :])
    w, b = params[-1]
    return (h @ w + b[None, :])[:, 0]


def mse(params, x, y, activation: str = "relu") -> jax.Array:
    return jnp.mean(jnp.square(predict(params, x, activation) - y))


def adapt(params, x, y, lr, steps: int, prox: float = 0.0, activation: str = "relu"):
    """`steps` gradient steps of size lr on MSE(phi; x, y) + (prox/2)|phi - params|^2 from phi =
    params: the follower's inner loop on one task. Returns the final phi and the path (the model
    before each step)."""

    def loss(phi):
        drift = sum(
            jnp.sum(jnp.square(a - b))
            for a, b in zip(jax.tree.leaves(phi), jax.tree.leaves(params))
        )
        return mse(phi, x, y, activation) + 0.5 * prox * drift

    def one(phi, _):
        grad = jax.grad(loss)(phi)
        return jax.tree.map(lambda a, b: a - lr * b, phi, grad), phi

    return jax.lax.scan(one, params, None, length=steps)


def make_few_shot_sinusoid(
    shots: int = 10,
    query: int = 10,
    tasks: int = 25,
    hidden: int = 40,
    activation: str = "relu",
    prox: float = 0.0,
    init_decay: float = 0.0,
    eval_tasks: int = 500,
    eval_points: int = 100,
    adapt_steps: int = 10,
    adapt_lr: float = 0.01,
    eval_seed: int = 0,
) -> Problem:
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; allowed: {', '.join(ACTIVATIONS)}")
    sizes = (1, hidden, hidden, 1)

    def loss(params, x, y):
        return mse(params, x, y, activation)

    def init_u(key):
        # MAML's reference code: N(0, 0.01^2) weights, zero biases (a He-scaled start makes the
        # test-time steps of 0.01 diverge)
        return normal_mlp_init(key, sizes, INIT_STD)

    def init_v(key):
        del key  # every task's displacement starts at 0: only the leader's shapes are needed
        shapes = jax.eval_shape(init_u, jax.random.PRNGKey(0))
        return jax.tree.map(lambda a: jnp.zeros((tasks, *a.shape), a.dtype), shapes)

    def sample_batch(key):
        key_tasks, key_support, key_query = jax.random.split(key, 3)
        amplitude, phase = _draw_tasks(key_tasks, tasks)
        xs, ys = _points(key_support, amplitude, phase, shots)
        xq, yq = _points(key_query, amplitude, phase, query)
        return {"xs": xs, "ys": ys, "xq": xq, "yq": yq}

    def task_models(u, v):
        return jax.tree.map(lambda a, d: a[None] + d, u, v)

    def g(u, v, batch):
        per_task = jax.vmap(loss)(task_models(u, v), batch["xs"], batch["ys"])
        penalty = sum(jnp.sum(jnp.square(d)) for d in jax.tree.leaves(v))
        return jnp.sum(per_task) + 0.5 * prox * penalty

    def f(u, v, batch):
        query = jnp.mean(jax.vmap(loss)(task_models(u, v), batch["xq"], batch["yq"]))
        if not init_decay:
            return query
        return query + 0.5 * init_decay * sum(jnp.sum(jnp.square(a)) for a in jax.tree.leaves(u))

    # the metrics' new tasks: fixed arrays, the same for every method and trial
    eval_key = jax.random.PRNGKey(eval_seed)
    amplitude, phase = _draw_tasks(jax.random.fold_in(eval_key, 0), eval_tasks)
    support = _points(jax.random.fold_in(eval_key, 1), amplitude, phase, shots)
    held_out = _points(jax.random.fold_in(eval_key, 2), amplitude, phase, eval_points)
    eval_data = {
        "xs": np.asarray(support[0]),
        "ys": np.asarray(support[1]),
        "xq": np.asarray(held_out[0]),
        "yq": np.asarray(held_out[1]),
    }

    def metrics(u, v, key):
        del v, key

        def one_task(xs, ys, xq, yq):
            final, path = adapt(u, xs, ys, adapt_lr, adapt_steps, prox, activation)
            # path[k] is the model before step k
            after_one = final if adapt_steps == 1 else jax.tree.map(lambda a: a[1], path)
            return loss(u, xq, yq), loss(after_one, xq, yq), loss(final, xq, yq)

        before, one, after = jax.vmap(one_task)(
            eval_data["xs"], eval_data["ys"], eval_data["xq"], eval_data["yq"]
        )
        return {
            "mse_before": jnp.mean(before),
            "mse_1": jnp.mean(one),
            "mse_after": jnp.mean(after),
        }

    return Problem(
        name="few_shot_sinusoid",
        f=f,
        g=g,
        init_u=init_u,
        init_v=init_v,
        sample_batch=sample_batch,
        metrics=metrics,
        headline="mse_after",
        restart_v=True,
        info={"tasks": tasks, "shots": shots},
    )
