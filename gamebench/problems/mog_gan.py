"""A GAN on a mixture of Gaussians on the unit circle (Metz et al. 2017; Hamm & Noh, ICML 2018, Sec. 5.2).

The generator u maps z ~ N(0, I_256) through two tanh layers of 128 to R^2; the discriminator v maps
R^2 through two tanh layers of 128 to one logit; both start from orthogonal weights of gain 1.4.
    f(u, v) = E_x log D(x) + E_z log(1 - D(G(z)))       (u minimises, v maximises)
with D = sigmoid(logit), computed with log-sigmoids. Every step draws fresh batches of real and noise
samples inside the compiled loop.

Layouts of the mixture: `even` puts n_modes distinct centres at angles 2 pi i / n; `paper_code`
reproduces the original code's angles linspace(0, 2 pi, n), whose first and last centres coincide:
7 distinct modes for n = 8, one of them with double weight.

Metrics (at log points, from `jsd_gen_samples` generator samples of one fixed, seeded noise set):
    jsd            the paper's estimator: 20 x 20 histogram on [-2, 2]^2 (samples outside dropped, as
                   numpy's histogram2d does), +1 in every bin, normalised, natural log; p_data from
                   `jsd_data_samples` samples drawn once at construction;
    high_quality   share of samples within 3 std of their nearest centre (Srivastava et al. 2017);
    modes_covered  distinct centres holding at least `cover_share` of a fair share N / modes of
                   those high-quality samples.
    samples        the first 256 of them, a (256, 2) snapshot for scatter plots.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gamebench.game import Problem
from gamebench.nn import mlp_apply, mlp_init
from gamebench.params import Param, above, at_least, one_of

LAYOUTS = ("even", "paper_code")

# the config fields make_mog_gan reads (gamebench.params)
PARAMS = {
    "n_modes": Param(8, "mixture components", at_least(1)),
    "layout": Param(
        "even", "even: n modes at 2 pi i / n; paper_code: linspace(0, 2 pi, n)", one_of(*LAYOUTS)
    ),
    "std": Param(0.01, "standard deviation of each component", above(0)),
    "radius": Param(1.0, "radius of the circle of centres", above(0)),
    "z_dim": Param(256, "generator noise dimension", at_least(1)),
    "hidden": Param(128, "hidden units per layer", at_least(1)),
    "layers": Param(2, "hidden layers", at_least(1)),
    "batch": Param(128, "real and noise samples per step", at_least(1)),
    "gain": Param(1.4, "orthogonal initialisation gain", above(0)),
    "jsd_data_samples": Param(640_000, "samples of p_data for the JSD, once", at_least(1)),
    "jsd_gen_samples": Param(64_000, "generator samples per JSD evaluation", at_least(1)),
}
HIST_BINS, HIST_LOW, HIST_HIGH = 20, -2.0, 2.0
SNAPSHOT = 256


def mixture_centres(n_modes: int, layout: str, radius: float = 1.0) -> np.ndarray:
    """(n_modes, 2) centres as listed (paper_code lists one centre twice)."""
    if layout == "even":
        angles = 2 * np.pi * np.arange(n_modes) / n_modes
    elif layout == "paper_code":
        angles = np.linspace(0, 2 * np.pi, n_modes)
    else:
        raise ValueError(f"unknown layout {layout!r}; allowed: {', '.join(LAYOUTS)}")
    # sin for x and cos for y, as in the original code
    return np.stack([radius * np.sin(angles), radius * np.cos(angles)], axis=1).astype(np.float32)


def distinct_modes(centres: np.ndarray) -> np.ndarray:
    return np.unique(np.round(centres, 6), axis=0)


def sample_mixture(key: jax.Array, centres: jax.Array, std: float, n: int) -> jax.Array:
    """n samples: a centre uniformly among those listed, plus isotropic Gaussian noise of `std`."""
    key_component, key_noise = jax.random.split(key)
    component = jax.random.randint(key_component, (n,), 0, centres.shape[0])
    return centres[component] + std * jax.random.normal(key_noise, (n, 2))


def histogram_probabilities(points: jax.Array) -> jax.Array:
    """The paper's smoothed 20 x 20 histogram on [-2, 2]^2 as a (400,) probability vector."""
    width = (HIST_HIGH - HIST_LOW) / HIST_BINS
    inside = jnp.all((points >= HIST_LOW) & (points <= HIST_HIGH), axis=1)
    index = jnp.clip(jnp.floor((points - HIST_LOW) / width).astype(jnp.int32), 0, HIST_BINS - 1)
    counts = (
        jnp.zeros(HIST_BINS * HIST_BINS)
        .at[index[:, 0] * HIST_BINS + index[:, 1]]
        .add(inside.astype(jnp.float32))
    )
    smoothed = counts + 1.0
    return smoothed / jnp.sum(smoothed)


def jensen_shannon(p: jax.Array, q: jax.Array) -> jax.Array:
    """JSD(p, q) = KL(p || m) / 2 + KL(q || m) / 2, m = (p + q) / 2, natural log (p, q > 0)."""
    m = 0.5 * (p + q)
    return 0.5 * jnp.sum(p * jnp.log(p / m)) + 0.5 * jnp.sum(q * jnp.log(q / m))


def mode_metrics(
    samples: jax.Array, modes: jax.Array, std: float, hq_stds: float = 3.0, cover_share: float = 0.1
) -> dict[str, jax.Array]:
    distance = jnp.linalg.norm(samples[:, None, :] - modes[None, :, :], axis=-1)  # (N, modes)
    close = jnp.min(distance, axis=1) <= hq_stds * std
    per_mode = jnp.zeros(modes.shape[0]).at[jnp.argmin(distance, axis=1)].add(close)
    fair_share = samples.shape[0] / modes.shape[0]
    return {
        "high_quality": jnp.mean(close),
        "modes_covered": jnp.sum(per_mode >= cover_share * fair_share).astype(jnp.float32),
    }


def make_mog_gan(
    n_modes: int = 8,
    layout: str = "even",
    std: float = 0.01,
    radius: float = 1.0,
    z_dim: int = 256,
    hidden: int = 128,
    layers: int = 2,
    batch: int = 128,
    gain: float = 1.4,
    jsd_data_samples: int = 640_000,
    jsd_gen_samples: int = 64_000,
    data_seed: int = 0,
    eval_seed: int = 1,
) -> Problem:
    """The mixture-of-Gaussians GAN game (see the module docstring)."""
    centres_np = mixture_centres(n_modes, layout, radius)
    modes = jnp.asarray(distinct_modes(centres_np))
    centres = jnp.asarray(centres_np)
    generator_sizes = [z_dim] + [hidden] * layers + [2]
    discriminator_sizes = [2] + [hidden] * layers + [1]

    def generate(u, z):
        return mlp_apply(u, z)

    def f(u, v, data):
        real, z = data
        real_logits = mlp_apply(v, real)[:, 0]
        fake_logits = mlp_apply(v, generate(u, z))[:, 0]
        # log D(x) = log_sigmoid(l); log(1 - D(G(z))) = log_sigmoid(-l)
        return jnp.mean(jax.nn.log_sigmoid(real_logits)) + jnp.mean(
            jax.nn.log_sigmoid(-fake_logits)
        )

    def sample_batch(key):
        key_real, key_z = jax.random.split(key)
        return sample_mixture(key_real, centres, std, batch), jax.random.normal(
            key_z, (batch, z_dim)
        )

    # p_data once, at construction, from a fixed seed: every run compares against the same histogram
    reference = sample_mixture(jax.random.PRNGKey(data_seed), centres, std, jsd_data_samples)
    p_data = jax.device_get(histogram_probabilities(reference))

    def metrics(u, v, key):
        del v, key
        # One fixed set of evaluation noise for every trial and log point (common random numbers:
        # JSD differences between K and steps are not blurred by sampling noise). Its key does not
        # depend on the trial, so under vmap it is drawn once, not once per trial: drawing 64,000 x
        # 256 normals per trial cost more than the generator's forward pass.
        z = jax.random.normal(jax.random.PRNGKey(eval_seed), (jsd_gen_samples, z_dim))
        samples = generate(u, z)
        out = {"jsd": jensen_shannon(jnp.asarray(p_data), histogram_probabilities(samples))}
        out.update(mode_metrics(samples, modes, std))
        out["samples"] = samples[:SNAPSHOT]
        return out

    return Problem(
        name="mog_gan",
        f=f,
        init_u=lambda key: mlp_init(key, generator_sizes, gain),
        init_v=lambda key: mlp_init(key, discriminator_sizes, gain),
        sample_batch=sample_batch,
        metrics=metrics,
        headline="jsd",
        info={"modes": np.asarray(modes), "centres": centres_np, "std": std, "layout": layout},
    )
