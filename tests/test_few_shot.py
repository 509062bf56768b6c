"""Few-shot sinusoid regression (issue 17): the displacement parametrisation makes the bilevel
solvers MAML and iMAML, the follower restarts every step, and the problem refuses solvers that
would keep its follower across steps."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from gamebench.config import ConfigError, validate
from gamebench.problems.few_shot import make_few_shot_sinusoid, mse
from gamebench.solvers import implicit, rmd


def _small(prox=0.0, tasks=1):
    return make_few_shot_sinusoid(tasks=tasks, hidden=6, eval_tasks=3, prox=prox)


def _trained_looking_u(problem, key):
    # a start with weights of order one, where the adaptation matters (the init is N(0, 0.01^2))
    return jax.tree.map(lambda a: 60.0 * a, problem.init_u(key))


def test_rmd_is_the_maml_meta_gradient():
    """One inner step of size alpha from delta = 0: rmd's hypergradient equals the gradient of
    L_query(u - alpha grad L_support(u)) taken directly (Finn et al., eq. 1)."""
    problem = _small(tasks=2)
    u = _trained_looking_u(problem, jax.random.PRNGKey(0))
    batch = problem.sample_batch(jax.random.PRNGKey(1))
    alpha = 0.01
    solver = rmd(optax.sgd(1.0), alpha, inner_steps=1)
    state = solver.init(problem, jax.random.PRNGKey(2))
    state = state._replace(u=u, opt_state_u=optax.sgd(1.0).init(u))
    # the step draws its own batch from its key: give it the same one
    new_state, info = jax.jit(partial(solver.step, problem))(state, jax.random.PRNGKey(1))
    step_taken = jax.tree.map(lambda a, b: a - b, u, new_state.u)  # sgd(1.0): the gradient

    def maml_objective(u):
        losses = []
        for t in range(2):
            xs, ys, xq, yq = (batch[k][t] for k in ("xs", "ys", "xq", "yq"))
            grad = jax.grad(mse)(u, xs, ys)
            adapted = jax.tree.map(lambda a, g: a - alpha * g, u, grad)
            losses.append(mse(adapted, xq, yq))
        return jnp.mean(jnp.stack(losses))

    expected = jax.jit(jax.grad(maml_objective))(u)
    np.testing.assert_allclose(
        ravel_pytree(step_taken)[0], ravel_pytree(expected)[0], rtol=2e-4, atol=1e-6
    )
    assert int(info["grad_evals"]) == 3


@pytest.mark.optimized  # a 1e-6 residual: O0 ends at 1.03e-6
def test_implicit_is_the_imaml_gradient_at_the_proximal_solution():
    """At a converged proximal inner solution the implicit hypergradient equals iMAML's
    prox (H + prox I)^{-1} grad L_query(phi*) (Rajeswaran et al., eq. 5), H the support loss's
    Hessian at phi*, computed densely."""
    with jax.enable_x64(True):
        prox = 100.0
        problem = _small(prox=prox)
        u = jax.tree.map(
            lambda a: a.astype(jnp.float64), _trained_looking_u(problem, jax.random.PRNGKey(3))
        )
        batch = jax.tree.map(
            lambda a: a.astype(jnp.float64), problem.sample_batch(jax.random.PRNGKey(4))
        )
        solver = implicit(
            optax.sgd(1.0), 0.005, inner_steps=2000, linear_solver="cg", solve_iters=200
        )
        state = solver.init(problem, jax.random.PRNGKey(5))
        state = state._replace(
            u=u,
            v=jax.tree.map(lambda a: a.astype(jnp.float64), state.v),
            opt_state_u=optax.sgd(1.0).init(u),
        )
        # one compiled program: run eagerly, each of the step's ops compiles a program of its own
        new_state, _ = jax.jit(partial(solver.step, problem))(state, jax.random.PRNGKey(4))
        direction = ravel_pytree(jax.tree.map(lambda a, b: a - b, u, new_state.u))[0]

        phi = jax.tree.map(lambda a, d: a + d[0], u, new_state.v)
        flat_phi, unravel = ravel_pytree(phi)
        xs, ys, xq, yq = (batch[k][0] for k in ("xs", "ys", "xq", "yq"))
        # the inner solve converged: the proximal objective is stationary at phi
        stationarity = jax.grad(mse)(phi, xs, ys)
        drift = jax.tree.map(lambda a, b: prox * (a - b), phi, u)
        residual = ravel_pytree(stationarity)[0] + ravel_pytree(drift)[0]
        assert float(jnp.linalg.norm(residual)) < 1e-6
        hessian = jax.jit(jax.hessian(lambda x: mse(unravel(x), xs, ys)))(flat_phi)
        grad_query = ravel_pytree(jax.grad(mse)(phi, xq, yq))[0]
        expected = prox * jnp.linalg.solve(hessian + prox * jnp.eye(len(flat_phi)), grad_query)
        np.testing.assert_allclose(direction, expected, rtol=1e-5, atol=1e-8)


def test_the_follower_restarts_at_zero_every_leader_step():
    problem = _small(tasks=2)
    solver = rmd(optax.adam(1e-3), 0.01, inner_steps=2)
    step = jax.jit(partial(solver.step, problem))  # one program for the three steps below
    state = solver.init(problem, jax.random.PRNGKey(0))
    state, _ = step(state, jax.random.PRNGKey(1))
    moved = state.v
    assert float(jnp.abs(ravel_pytree(moved)[0]).max()) > 0  # the inner loop moved it
    # from a state whose follower is far away, the next step still starts at delta = 0
    far = state._replace(v=jax.tree.map(lambda a: a + 5.0, moved))
    one, _ = step(state, jax.random.PRNGKey(2))
    two, _ = step(far, jax.random.PRNGKey(2))
    for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(two)):
        np.testing.assert_array_equal(a, b)


def test_metrics_adapt_on_the_support_and_score_held_out_points():
    problem = _small()
    u = _trained_looking_u(problem, jax.random.PRNGKey(0))
    values = problem.metrics(u, problem.init_v(None), jax.random.PRNGKey(0))
    assert set(values) == {"mse_before", "mse_1", "mse_after"}
    # ten small steps on the support lower the held-out error of a sinusoid fit from any start
    assert float(values["mse_after"]) < float(values["mse_before"])


@pytest.mark.parametrize("solver", ["gda", "kbeam", "extragradient"])
def test_solvers_that_keep_the_follower_are_refused_in_one_line(compose, solver):
    cfg = compose(["problem=few_shot_sinusoid", f"solver={solver}"])
    with pytest.raises(ConfigError, match=f"solver={solver} is not allowed on problem few_shot"):
        validate(cfg)
    validate(compose(["problem=few_shot_sinusoid", "solver=rmd"]))
