"""Config schemas (checked by Hydra while composing) and range checks (checked before running).

Every solver config shares one schema, so `solver.k=1,2` composes for every solver in a sweep; the
registry knows which solvers read `k` (ignored_settings), and a sweep skips a GDA job that only
differs from another in `k` (effective_config).
Every surface shares one problem schema. Types and unknown keys are rejected at composition; values
out of range raise `ConfigError` with one line that names the value and what is allowed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"  # editable install / source tree


def config_dir() -> Path:
    """The directory of the YAML configs, for editable and regular installs alike."""
    if (CONFIG_DIR / "config.yaml").is_file():
        return CONFIG_DIR
    from importlib.resources import files

    return Path(str(files("gamebench.configs")))


class ConfigError(ValueError):
    """A config value out of its allowed range; the message is one line for the user."""


class LeaderState(enum.Enum):
    shared = "shared"  # one leader optimiser state
    per_candidate = "per_candidate"  # one per follower candidate (the K-beam 2018 code)


class Layout(enum.Enum):
    even = "even"  # n distinct modes at angles 2 pi i / n
    paper_code = "paper_code"  # the original code's linspace(0, 2 pi, n): n - 1 distinct modes


class OptimizerName(enum.Enum):
    sgd = "sgd"
    momentum = "momentum"
    adam = "adam"


class Schedule(enum.Enum):
    constant = "constant"  # lr
    inv_sqrt = "inv_sqrt"  # lr / sqrt(t), t = 1, 2, ...


class LinearSolver(enum.Enum):
    cg = "cg"  # conjugate gradients
    neumann = "neumann"  # truncated Neumann series


class Direction(enum.Enum):
    min_norm = "min_norm"  # minimum-norm element of the near-best gradients' hull
    random = "random"  # random convex combination of them


@dataclass
class OptimizerConfig:
    name: OptimizerName = OptimizerName.sgd
    lr: float = 0.1
    schedule: Schedule = Schedule.inv_sqrt
    momentum: float = 0.9  # momentum only
    b1: float = 0.9  # adam only
    b2: float = 0.999  # adam only


@dataclass
class SolverConfig:
    name: str = MISSING
    k: int = 1  # K-beam: number of follower candidates
    eps: float = 0.0  # kbeam_eps: near-best threshold
    direction: Direction = Direction.min_norm  # kbeam_eps: leader direction in the hull
    min_norm_iters: int = 100  # kbeam_eps: inner iterations of the min-norm solve
    leader_state: LeaderState = LeaderState.shared  # kbeam, kbeam_eps: leader optimiser state(s)
    inner_steps: int = 1  # gda_k: follower steps per leader step; unrolled: steps unrolled; danskin: inner solve steps
    gamma: float = 0.1  # consensus: weight of grad |xi|^2/2; sga: lambda
    cg_iters: int = 10  # follow_the_ridge, cgd: conjugate-gradient iterations per step
    damping: float = 0.0  # follow_the_ridge: H_vv g + damping I in the ridge solve
    eta: float = (
        0.1  # cgd: step size inside the competitive preconditioner; danskin: first line-search step
    )
    # bilevel solvers (gamebench/solvers/bilevel.py): T = inner_steps plain follower steps of size
    # opt_v.lr; approxgrad: cg_iters residual steps of size eta; implicit: cg_iters solve iterations
    truncate: int = 0  # rmd: back-propagate through the last `truncate` steps only; 0 = all
    linear_solver: LinearSolver = LinearSolver.cg  # implicit: cg or neumann
    alpha: float = 0.5  # bda: weight of the leader's direction in the follower's steps
    penalty_rho: float = 1.0  # penalty: initial rho, lambda and eps
    penalty_lambda: float = 10.0
    penalty_eps: float = 1.0
    baseline: str = "initial"  # baseline: the problem's named baseline (problems.BASELINES)
    opt_u: OptimizerConfig = field(default_factory=OptimizerConfig)
    opt_v: OptimizerConfig = field(default_factory=OptimizerConfig)


class SmdName(enum.Enum):
    smd20 = "smd20"
    smd21 = "smd21"
    smd23 = "smd23"
    smd24 = "smd24"


@dataclass
class SmdConfig:
    name: str = MISSING
    which: SmdName = SmdName.smd20  # the penalty paper's synthetic problem
    dim: int = 20  # coordinates of u and of v (two blocks; a multiple of 4)
    matrix_seed: int = 0  # A of smd23 / smd24


@dataclass
class QuadraticBilevelConfig:
    name: str = MISSING
    dim: int = 5
    matrix_seed: int = 0
    mu: float = 0.1  # leader's ridge
    curvature: float = 0.0  # > 0: curvature * sum log cosh(v) added to g (no closed form then)


@dataclass
class HypercleaningConfig:
    name: str = MISSING
    n_train: int = 5000  # noisy training examples (the leader's weights)
    n_val: int = 5000  # clean validation examples
    noise: float = 0.5  # share of training labels changed to another class
    label_seed: int = 0  # which labels are corrupted, and how
    mu: float = 1.0e-3  # the follower's ridge


@dataclass
class IapttToyConfig:
    name: str = MISSING


@dataclass
class SurfaceConfig:
    name: str = MISSING
    dim: int = 1  # u, v in R^dim; the game is the separable sum over coordinates
    init_radius: float = 0.45  # u0, v0 ~ U(-r, r)^dim
    phi_grid: int = 2001  # grid points per coordinate for phi(u) = max_v f(u, v)


class QuadraticKind(enum.Enum):
    strongly_convex_concave = "strongly_convex_concave"
    ridge = "ridge"  # the Follow-the-Ridge paper's -3u^2 + 4uv - v^2


@dataclass
class BilinearConfig:
    name: str = MISSING
    dim: int = 2
    matrix_seed: int | None = None  # None: A = I; else a random A with singular values in [0.5, 2]
    init_scale: float = 1.0  # u0, v0 ~ N(0, init_scale^2 I)


@dataclass
class QuadraticConfig:
    name: str = MISSING
    kind: QuadraticKind = QuadraticKind.strongly_convex_concave
    dim: int = 2
    matrix_seed: int = 0
    init_scale: float = 1.0


@dataclass
class MogGanConfig:
    name: str = MISSING
    n_modes: int = 8
    layout: Layout = Layout.even
    std: float = 0.01
    radius: float = 1.0
    z_dim: int = 256
    hidden: int = 128
    layers: int = 2
    batch: int = 128  # real and noise samples per step
    gain: float = 1.4  # orthogonal initialisation
    jsd_data_samples: int = 640_000  # for p_data, once
    jsd_gen_samples: int = 64_000  # generator samples per JSD evaluation


class PrivacyDataset(enum.Enum):
    genki = "genki"  # faces: smile (utility) vs gender (private)
    har = "har"  # smartphone windows: activity (utility) vs subject (private)


class FilterKind(enum.Enum):
    linear = "linear"  # z = x U
    nn = "nn"  # one tanh hidden layer


@dataclass
class PrivacyFilterConfig:
    name: str = MISSING
    dataset: PrivacyDataset = PrivacyDataset.genki
    filter: FilterKind = FilterKind.linear
    d: int = 10  # filter output dimension
    rho: float = 10.0  # weight of the utility loss
    weight_decay: float = 1.0e-3  # lambda on the filter's parameters
    hidden: int = 50  # nn filter's hidden units
    # metrics also hold the paper's protocol: fresh logistic regressions for both labels trained on
    # the frozen filter's outputs (L-BFGS), test accuracies protocol_utility_acc, protocol_private_acc
    protocol: bool = False


class ConvImpl(enum.Enum):
    im2col = "im2col"  # shifted copies + one matmul: fast in compiled loops on CPU
    xla = "xla"  # lax.conv_general_dilated: for GPUs


@dataclass
class DomainAdaptationConfig:
    name: str = MISSING
    batch: int = 128  # source and target images per step
    rho: float = 1.0  # weight of the label loss
    weight_decay: float = 1.0e-12  # lambda on |u|^2
    adversarial: bool = True  # False: source-only training (the domain terms dropped)
    init_std: float = 0.1  # weights N(0, init_std^2)
    eval_size: int = 10_000  # examples of each test set scored at log points (first n)
    mnistm_seed: int = 0  # synthesised MNIST-M (gamebench.data.mnistm)
    conv: ConvImpl = ConvImpl.im2col  # im2col on CPU; xla (lax.conv, cuDNN) on GPU
    train_size: int = 0  # > 0: only the first n training images of each domain (smoke runs)


@dataclass
class GamebenchConfig:
    problem: Any = MISSING
    solver: SolverConfig = MISSING
    experiment: str = "default"  # name recorded in every row
    report: str | None = None  # gamebench.reports module built from the sweep's rows at its end
    seed: int = 0
    trials: int = 100  # vmapped in one compiled program
    steps: int = 1000
    log_every: int = 10  # metrics every log_every steps; must divide steps
    devices: int = 0  # CPU devices to shard trials over; 0 = one per core (set before JAX starts)
    # progress lines at log points via a host callback; None = on for runs of >= 10,000 steps.
    # Off, the compiled program has no callback, runs faster and is kept in the compilation cache.
    progress: bool | None = None
    plot_trials: int = 8  # trajectories drawn in the figure
    plot: bool = True  # the job's trajectories.png
    compile_cache: bool = True  # persistent XLA cache under ~/.cache/gamebench/jax
    # XLA optimisation: full, or fast (about a third of the compile time, slower runs, numbers
    # equal to full only up to round-off): for exploring small games interactively
    compile: str = "full"
    # set by the sweeper on the launcher jobs it makes: a file listing the jobs of one fused group
    sweep_group: str | None = None
    # false: a sweep compiles and runs this job alone, so its compile and run seconds (meta.json)
    # are its own (cost studies); its numbers are the same either way
    fuse: bool = True


COMPILE_CHOICES = ("full", "fast")

# solver parameters that only some solvers read (the registry says which)
SHARED_SOLVER_PARAMS = tuple(
    name for name in SolverConfig.__dataclass_fields__ if name not in ("name", "opt_u", "opt_v")
)


def per_solver(solver_name: str, values: dict, default: Any) -> Any:
    """`${per_solver:${solver.name},{penalty: 0.05},1.0}` in a config: a protocol value that
    depends on the solver of the job (the penalty method's follower step in hyper-cleaning),
    `default` for the solvers not listed."""
    return values.get(solver_name, default)


def register_schemas() -> None:
    # the sweeper named in config.yaml's defaults registers its config node on import; compose_config
    # (scripts, tests) composes without Hydra's plugin discovery, so import it here
    import hydra_plugins.gamebench_sweeper.gamebench_sweeper  # noqa: F401

    OmegaConf.register_new_resolver("per_solver", per_solver, replace=True)
    cs = ConfigStore.instance()
    cs.store(name="gamebench_schema", node=GamebenchConfig)
    cs.store(group="schema", name="solver", node=SolverConfig)
    cs.store(group="schema", name="surface", node=SurfaceConfig)
    cs.store(group="schema", name="bilinear", node=BilinearConfig)
    cs.store(group="schema", name="quadratic", node=QuadraticConfig)
    cs.store(group="schema", name="mog_gan", node=MogGanConfig)
    cs.store(group="schema", name="domain_adaptation", node=DomainAdaptationConfig)
    cs.store(group="schema", name="privacy_filter", node=PrivacyFilterConfig)
    cs.store(group="schema", name="smd", node=SmdConfig)
    cs.store(group="schema", name="quadratic_bilevel", node=QuadraticBilevelConfig)
    cs.store(group="schema", name="iaptt_toy", node=IapttToyConfig)
    cs.store(group="schema", name="hypercleaning", node=HypercleaningConfig)


register_schemas()


def compose_config(overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """The real configs/ composed as the CLI composes them (without the hydra node): for scripts
    and tests that want exactly what `gamebench <overrides>` would run."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def _enum_name(value: Any) -> Any:
    return getattr(value, "name", value)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _check_optimizer(prefix: str, opt: Any) -> None:
    _check(opt.lr >= 0, f"{prefix}.lr={opt.lr} is out of range: must be >= 0")
    _check(
        0 <= opt.momentum < 1,
        f"{prefix}.momentum={opt.momentum} is out of range: must be in [0, 1)",
    )
    for beta in ("b1", "b2"):
        value = getattr(opt, beta)
        _check(0 <= value < 1, f"{prefix}.{beta}={value} is out of range: must be in [0, 1)")


def check_known_keys(node: Any, prefix: str = "") -> None:
    """Refuse keys a schema does not declare (`+trails=10` would otherwise run with the typo
    ignored), naming the closest declared key."""
    import dataclasses
    import difflib

    schema = OmegaConf.get_type(node)
    if not dataclasses.is_dataclass(schema):
        return
    declared = [f.name for f in dataclasses.fields(schema)]
    for key in node.keys():
        path = f"{prefix}{key}"
        if key not in declared:
            close = difflib.get_close_matches(str(key), declared, n=1)
            hint = f"; did you mean '{prefix}{close[0]}'?" if close else ""
            raise ConfigError(f"unknown key '{path}'{hint}")
        child = node._get_node(key)
        if isinstance(child, DictConfig):
            check_known_keys(child, f"{path}.")


def validate(cfg: DictConfig) -> None:
    """Range checks and solver/parameter consistency; raises ConfigError with one line."""
    from gamebench.problems import BASELINES, PROBLEMS
    from gamebench.solvers import SOLVERS

    check_known_keys(cfg)
    _check(cfg.trials >= 1, f"trials={cfg.trials} is out of range: must be >= 1")
    _check(cfg.steps >= 1, f"steps={cfg.steps} is out of range: must be >= 1")
    for name in ("seed", "trials", "steps"):  # they enter the program as int32
        _check(
            -(2**31) <= cfg[name] < 2**31,
            f"{name}={cfg[name]} is out of range: must fit in 32 bits (below 2147483648)",
        )
    _check(
        cfg.log_every >= 1 and cfg.steps % cfg.log_every == 0,
        f"log_every={cfg.log_every} is not allowed: must be >= 1 and divide steps={cfg.steps}",
    )
    _check(
        cfg.devices >= 0, f"devices={cfg.devices} is out of range: must be >= 0 (0 = one per core)"
    )
    _check(cfg.plot_trials >= 0, f"plot_trials={cfg.plot_trials} is out of range: must be >= 0")
    _check(
        cfg.compile in COMPILE_CHOICES,
        f"compile={cfg.compile!r} is not allowed; allowed: {', '.join(COMPILE_CHOICES)}",
    )

    problem = cfg.problem
    _check(
        problem.name in PROBLEMS,
        f"problem.name={problem.name!r} is unknown; allowed: {', '.join(sorted(PROBLEMS))}",
    )
    if "dim" in problem:
        _check(problem.dim >= 1, f"problem.dim={problem.dim} is out of range: must be >= 1")
    if "init_radius" in problem:
        _check(
            0 < problem.init_radius <= 0.5,
            f"problem.init_radius={problem.init_radius} is out of range: must be in (0, 0.5]",
        )
    if "phi_grid" in problem:
        _check(
            problem.phi_grid >= 2,
            f"problem.phi_grid={problem.phi_grid} is out of range: must be >= 2",
        )
    for param in (
        "n_modes",
        "z_dim",
        "hidden",
        "layers",
        "batch",
        "jsd_data_samples",
        "jsd_gen_samples",
        "eval_size",
        "d",
        "n_train",
        "n_val",
    ):
        if param in problem:
            _check(
                problem[param] >= 1,
                f"problem.{param}={problem[param]} is out of range: must be >= 1",
            )
    for param in ("std", "radius", "gain", "rho", "init_std"):
        if param in problem:
            _check(
                problem[param] > 0, f"problem.{param}={problem[param]} is out of range: must be > 0"
            )
    if "train_size" in problem:
        _check(
            problem.train_size >= 0,
            f"problem.train_size={problem.train_size} is out of range: must be >= 0 (0 = all)",
        )
    if "weight_decay" in problem:
        _check(
            problem.weight_decay >= 0,
            f"problem.weight_decay={problem.weight_decay} is out of range: must be >= 0",
        )
    if "curvature" in problem:
        _check(
            problem.curvature >= 0,
            f"problem.curvature={problem.curvature} is out of range: must be >= 0",
        )
    if "init_scale" in problem:
        _check(
            problem.init_scale > 0,
            f"problem.init_scale={problem.init_scale} is out of range: must be > 0",
        )

    solver = cfg.solver
    _check(
        solver.name in SOLVERS,
        f"solver.name={solver.name!r} is unknown; allowed: {', '.join(sorted(SOLVERS))}",
    )
    _check(solver.k >= 1, f"solver.k={solver.k} is out of range: must be an integer >= 1")
    _check(solver.eps >= 0, f"solver.eps={solver.eps} is out of range: must be >= 0")
    for param in ("min_norm_iters", "inner_steps", "cg_iters"):
        _check(solver[param] >= 1, f"solver.{param}={solver[param]} is out of range: must be >= 1")
    _check(
        0 <= solver.truncate <= solver.inner_steps,
        f"solver.truncate={solver.truncate} is out of range: must be in [0, inner_steps]",
    )
    _check(
        0 <= solver.alpha <= 1, f"solver.alpha={solver.alpha} is out of range: must be in [0, 1]"
    )
    for param in ("penalty_rho", "penalty_lambda", "penalty_eps"):
        _check(solver[param] > 0, f"solver.{param}={solver[param]} is out of range: must be > 0")
    for param in ("gamma", "damping"):
        _check(solver[param] >= 0, f"solver.{param}={solver[param]} is out of range: must be >= 0")
    _check(solver.eta > 0, f"solver.eta={solver.eta} is out of range: must be > 0")
    _check_optimizer("solver.opt_u", solver.opt_u)
    _check_optimizer("solver.opt_v", solver.opt_v)

    if solver.name == "baseline":
        allowed = ("initial", *BASELINES.get(problem.name, ()))
        _check(
            solver.baseline in allowed,
            f"solver.baseline={solver.baseline!r} is not a baseline of problem {problem.name!r}; "
            f"allowed: {', '.join(allowed)}",
        )


def ignored_settings(cfg: DictConfig | dict) -> list[str]:
    """What this job's solver or problem ignores, one clause each: a job that differs from another
    only there computes the same numbers (a sweep runs the first and skips the others)."""
    from gamebench.solvers import SOLVERS

    problem, solver = cfg["problem"], cfg["solver"]
    reasons = []
    if solver["name"] == "baseline" and solver["baseline"] != "initial":
        if _enum_name(problem.get("filter")) == "nn":
            reasons.append(
                f"solver.baseline={solver['baseline']!r} is a linear filter: "
                "problem.filter=nn does not change it"
            )
    if problem.get("adversarial", True) is False and solver["name"] != "gda":
        # without the domain terms the follower never touches the leader's loss: every solver moves
        # u exactly as gda does, so the sweep's gda job is the source-only baseline
        reasons.append(
            f"problem.adversarial=false makes solver {solver['name']!r} train the same leader as "
            "'gda' (source-only training)"
        )
        return reasons
    defaults = SolverConfig()
    uses = SOLVERS[solver["name"]].uses
    for param in SHARED_SOLVER_PARAMS:
        value, default = _enum_name(solver[param]), _enum_name(getattr(defaults, param))
        if param not in uses and value != default:
            users = sorted(name for name, spec in SOLVERS.items() if param in spec.uses)
            reasons.append(
                f"solver.{param}={value} has no effect on solver {solver['name']!r} "
                f"(only {', '.join(users)} read it)"
            )
    return reasons


def effective_config(container: dict) -> dict:
    """A resolved job config with what it ignores reset (ignored_settings): the solver's unused
    shared parameters to their defaults, a source-only job's solver to gda, a closed-form privacy
    baseline's filter to linear. Jobs with equal effective configs compute the same numbers."""
    import copy

    from gamebench.solvers import SOLVERS

    out = copy.deepcopy(container)
    problem, solver = out["problem"], out["solver"]
    if problem.get("adversarial", True) is False:
        solver["name"] = "gda"
    if solver["name"] == "baseline" and solver["baseline"] != "initial" and "filter" in problem:
        problem["filter"] = "linear"
        problem["hidden"] = PrivacyFilterConfig.hidden
    defaults = SolverConfig()
    uses = SOLVERS[solver["name"]].uses
    for param in SHARED_SOLVER_PARAMS:
        if param not in uses:
            solver[param] = _enum_name(getattr(defaults, param))
    return out


def flat_params(cfg: DictConfig | dict) -> dict[str, Any]:
    """problem.* and solver.* leaves as flat 'solver.opt_u.lr'-style columns (enums as strings)."""
    out: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}", value)
        else:
            out[prefix] = node.name if isinstance(node, enum.Enum) else node

    for group in ("problem", "solver"):
        node = cfg[group]
        if not isinstance(node, dict):
            node = OmegaConf.to_container(node, resolve=True, enum_to_str=True)
        walk(group, node)
    return out
