"""Every surface: finite values, exact gradients, idempotent projections, and a known solution that
really is the minimax point (phi(u*) <= phi(u) on a grid, and phi(u*) equals its closed form)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from gamebench.problems import PROBLEMS, make_surface
from gamebench.problems.surfaces import SURFACES

# phi(u*) = min_u max_v f(u, v) on [-0.5, 0.5]^2, derived by hand for the closed-form surfaces
CLOSED_FORM_VALUES = {
    "saddle": 0.0,  # max_v 5(u^2 - v^2) = 5u^2
    "rotated_saddle": 0.0,  # best response v = u gives 2u^2
    "seesaw": 0.0,  # 0.5 |sin(pi u)|
    "monkey_saddle": 1 / 32,  # max(1/8 - 3u^2/2, 2|u|^3) meets at |u| = 1/4
    "anti_saddle": 0.25,  # -u^2 + |u| + 1/4 (v = +-1/2)
    "classic_monkey_saddle": 0.0,  # u^3 for u >= 0, u^3 - 3u/4 for u < 0
    "cos_sin": 0.0,  # 0.1 |cos(1.5 pi u)|
    "demyanov": np.sqrt(2) / 6,  # every v-endpoint ties at u = +-1/3
    "counterexample": 0.0,  # v = u gives u^2; the endpoints give less near 0
}


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_surface_values_and_gradients(name):
    problem = make_surface(name, dim=3)
    key_u, key_v = jax.random.split(jax.random.PRNGKey(0))
    u, v = problem.init_u(key_u), problem.init_v(key_v)
    assert u.shape == v.shape == (3,)
    assert jnp.isfinite(problem.f(u, v, None))
    check_grads(
        lambda a, b: problem.f(a, b, None), (u, v), order=1, modes=["rev"], atol=2e-2, rtol=2e-2
    )


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_surface_is_separable_sum(name):
    one, three = make_surface(name, dim=1), make_surface(name, dim=3)
    u, v = jnp.array([0.1, -0.3, 0.45]), jnp.array([-0.2, 0.05, 0.3])
    per_coordinate = sum(one.f(u[i : i + 1], v[i : i + 1], None) for i in range(3))
    np.testing.assert_allclose(three.f(u, v, None), per_coordinate, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_projection_is_idempotent_and_lands_in_the_box(name):
    problem = make_surface(name, dim=4)
    x = jnp.array([-3.0, -0.2, 0.7, 0.5])
    once = problem.project_u(x)
    np.testing.assert_array_equal(problem.project_u(once), once)
    assert jnp.all(jnp.abs(once) <= 0.5)
    np.testing.assert_array_equal(once, jnp.array([-0.5, -0.2, 0.5, 0.5]))


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_known_solution_is_the_minimax_point(name):
    problem = make_surface(name, dim=1, phi_grid=4001)
    phi = jax.jit(jax.vmap(lambda u: problem.worst_case(u[None])))
    grid = jnp.linspace(-0.5, 0.5, 1001)
    phi_grid = np.asarray(phi(grid))
    phi_star = np.asarray(phi(jnp.asarray(problem.solution.points[:, 0])))
    # every listed point attains the minimum of phi over the grid (up to grid resolution)
    assert np.all(phi_star <= phi_grid.min() + 1e-5), (phi_star, phi_grid.min())
    # and points away from the minimax set are strictly worse
    dist = np.min(np.abs(np.asarray(grid)[:, None] - problem.solution.points[None, :, 0]), axis=1)
    assert np.all(phi_grid[dist > 0.05] > phi_star.max() + 1e-4)
    np.testing.assert_allclose(problem.solution.value, phi_star.max(), atol=1e-5)
    if name in CLOSED_FORM_VALUES:
        np.testing.assert_allclose(problem.solution.value, CLOSED_FORM_VALUES[name], atol=1e-6)


def test_solution_value_scales_with_dimension():
    for name in SURFACES:
        assert make_surface(name, dim=3).solution.value == pytest.approx(
            3 * make_surface(name, dim=1).solution.value, rel=1e-6, abs=1e-9
        )


def test_monkey_saddle_solution_set_is_the_product():
    points = make_surface("monkey_saddle", dim=2).solution.points
    assert sorted(map(tuple, points.tolist())) == [
        (-0.25, -0.25),
        (-0.25, 0.25),
        (0.25, -0.25),
        (0.25, 0.25),
    ]


def test_bad_dimension_is_rejected():
    with pytest.raises(ValueError, match="dim=0"):
        make_surface("saddle", dim=0)
    with pytest.raises(ValueError, match="minimax points"):
        make_surface("monkey_saddle", dim=20)


def test_registry_lists_the_six_surfaces():
    assert set(PROBLEMS) >= {
        "saddle",
        "rotated_saddle",
        "seesaw",
        "monkey_saddle",
        "anti_saddle",
        "weapons",
    }


# --- every registered problem (ProblemSpec): the checks a new problem gets without new test code ---


def _registered(compose, name):
    """The problem built from its own config, at its smoke size; skipped without its data."""
    import os

    from gamebench.problems import make_problem

    spec = PROBLEMS[name]
    if spec.datasets and not os.environ.get("GAMEBENCH_DATA"):
        pytest.skip(f"GAMEBENCH_DATA is not set: {name} needs {', '.join(spec.datasets)}")
    problem_smoke = [o for o in spec.smoke if o.startswith("problem.")]
    return make_problem(compose([f"problem={name}", *problem_smoke]).problem)


def _unit_direction(key, tree):
    leaves, treedef = jax.tree.flatten(tree)
    keys = jax.random.split(key, len(leaves))
    noise = [jax.random.normal(k, jnp.shape(x)) for k, x in zip(keys, leaves)]
    norm = jnp.sqrt(sum(jnp.sum(n * n) for n in noise))
    return jax.tree.unflatten(treedef, [n / norm for n in noise])


def _directional_derivatives(loss, point, key, eps=1e-2):
    """Central differences along a random unit direction, the gradient's derivative along it and
    1 + |gradient| (float32); traced, so a whole check is one compiled program, not one per op."""
    direction = _unit_direction(key, point)
    shift = lambda s: jax.tree.map(lambda x, d: x + s * d, point, direction)  # noqa: E731
    numeric = (loss(shift(eps)) - loss(shift(-eps))) / (2 * eps)
    grad = jax.grad(loss)(point)
    analytic = sum(
        jnp.sum(g * d) for g, d in zip(jax.tree.leaves(grad), jax.tree.leaves(direction))
    )
    scale = 1.0 + jnp.sqrt(sum(jnp.sum(g * g) for g in jax.tree.leaves(grad)))
    return numeric, analytic, scale


def _assert_close_derivatives(numeric, analytic, scale):
    assert abs(float(numeric) - float(analytic)) <= 2e-2 * float(scale), (
        float(numeric),
        float(analytic),
    )


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_every_problem_has_finite_values_and_true_gradients(compose, name):
    from gamebench.game import follower_loss

    problem = _registered(compose, name)
    if problem.bind is not None:
        problem = problem.bind(problem.data)
    g = follower_loss(problem)

    @jax.jit
    def checks(key):
        key_u, key_v, key_batch, key_d = jax.random.split(key, 4)
        u, v = problem.init_u(key_u), problem.init_v(key_v)
        batch = problem.sample_batch(key_batch)
        leader = _directional_derivatives(lambda u: problem.f(u, v, batch), u, key_d)
        follower = _directional_derivatives(
            lambda v: g(u, v, batch), v, jax.random.fold_in(key_d, 1)
        )
        return problem.f(u, v, batch), leader, follower, problem.metrics(u, v, key_batch)

    value, leader, follower, metrics = checks(jax.random.PRNGKey(0))
    assert np.isfinite(float(value))
    _assert_close_derivatives(*leader)
    _assert_close_derivatives(*follower)
    for metric, value in metrics.items():
        if jnp.ndim(value) == 0:
            assert np.isfinite(float(value)), metric


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_every_problem_projects_idempotently_and_its_solution_is_its_value(compose, name):
    problem = _registered(compose, name)
    if problem.bind is not None:
        problem = problem.bind(problem.data)
    key_u, key_v = jax.random.split(jax.random.PRNGKey(1))

    def once_and_twice(project, init, key):
        far = jax.tree.map(lambda x: 10.0 * x + 3.0, init(key))  # outside any box
        once = project(far)
        return once, project(once)

    for project, init, key in (
        (problem.project_u, problem.init_u, key_u),
        (problem.project_v, problem.init_v, key_v),
    ):
        # one compiled program per player, not one per primitive
        once, twice = jax.jit(once_and_twice, static_argnums=(0, 1))(project, init, key)
        for a, b in zip(jax.tree.leaves(twice), jax.tree.leaves(once)):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    if problem.solution is not None and problem.worst_case is not None:
        value = float(problem.worst_case(jnp.asarray(problem.solution.points[0])))
        assert abs(value - problem.solution.value) <= 1e-3 * (1 + abs(problem.solution.value))
