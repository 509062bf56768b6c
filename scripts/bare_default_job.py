"""The default job as a bare JAX script: the floor `gamebench solver=kbeam problem=anti_saddle`
is measured against (scripts/breakdown_default_job.py).

K-beam (K = 5) on the anti-saddle f(u, v) = -u^2 + v^2 + 2uv on [-1/2, 1/2]^2, 100 trials x 1000
steps of size 0.1/sqrt(t) for both players, |u - 0| logged every 10 steps: one jit(vmap) of a scan
over scans, no files, no gamebench import. Prints the final mean distance.
"""

import time

start = time.perf_counter()
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

TRIALS, STEPS, LOG_EVERY, K, LR, BOX, RADIUS = 100, 1000, 10, 5, 0.1, 0.5, 0.45


def f(u, v):
    return -(u**2) + v**2 + 2.0 * u * v


def step(carry, t):
    u, vs = carry
    lr = LR / jnp.sqrt(t + 1.0)
    best = jnp.argmax(jax.vmap(f, in_axes=(None, 0))(u, vs))
    u = jnp.clip(u - lr * jax.grad(f, argnums=0)(u, vs[best]), -BOX, BOX)
    vs = jnp.clip(vs + lr * jax.vmap(jax.grad(f, argnums=1), in_axes=(None, 0))(u, vs), -BOX, BOX)
    return (u, vs), None


def trial(key):
    key_u, key_v = jax.random.split(key)
    u = jax.random.uniform(key_u, (), minval=-RADIUS, maxval=RADIUS)
    vs = jax.random.uniform(key_v, (K,), minval=-RADIUS, maxval=RADIUS)

    def chunk(carry, c):
        carry, _ = jax.lax.scan(step, carry, c * LOG_EVERY + jnp.arange(LOG_EVERY))
        return carry, jnp.abs(carry[0])

    _, dist = jax.lax.scan(chunk, (u, vs), jnp.arange(STEPS // LOG_EVERY))
    return dist


keys = jax.random.split(jax.random.PRNGKey(0), TRIALS)
run = jax.jit(jax.vmap(trial)).lower(keys).compile()
dist = jax.block_until_ready(run(keys))
print(f"final mean |u - u*| {float(dist[:, -1].mean()):.4g} | {time.perf_counter() - start:.2f} s")
