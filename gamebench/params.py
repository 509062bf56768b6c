"""Config fields as the factories that read them declare them: a default, a one-line doc and the
values allowed. config.py builds the Hydra schemas and the range checks from these declarations, so
a new solver or problem declares its fields once, next to the code that reads them, and every set
of allowed values is written once. No JAX here: data/ and reports/ may import it.

    K = Param(1, "K-beam: number of follower candidates", at_least(1))
    LEADER_STATE = Param("shared", "leader optimiser state(s)", one_of(*LEADER_STATES))
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional


class ConfigError(ValueError):
    """A config value out of its allowed range; the message is one line for the user."""


@dataclass(frozen=True)
class Check:
    ok: Callable[[Any], bool]
    rule: str  # completes "x=v is out of range: ..." or, with choices, "... not allowed; ..."
    choices: tuple | None = None


@dataclass(frozen=True)
class Param:
    default: Any
    doc: str
    check: Check | None = None
    kind: type | None = None  # the value type where the default does not say (None defaults)

    @property
    def type(self) -> Any:
        """The schema type: `kind` where given (optional for a None default), else the default's."""
        if self.default is None:
            return Optional[self.kind or int]  # noqa: UP045 - OmegaConf reads typing.Optional only
        return self.kind or type(self.default)


def at_least(low: float) -> Check:
    return Check(lambda v: v >= low, f"must be >= {low}")


def above(low: float) -> Check:
    return Check(lambda v: v > low, f"must be > {low}")


def within(low: float, high: float, *, high_open: bool = False) -> Check:
    bracket = ")" if high_open else "]"
    if high_open:
        return Check(lambda v: low <= v < high, f"must be in [{low}, {high}{bracket}")
    return Check(lambda v: low <= v <= high, f"must be in [{low}, {high}{bracket}")


def one_of(*choices: Any) -> Check:
    return Check(lambda v: v in choices, "allowed: " + ", ".join(map(str, choices)), choices)


FLOAT32_MAX = 3.4028234663852886e38  # numbers enter the compiled programs as float32


def check_value(path: str, value: Any, param: Param) -> None:
    """Raise ConfigError naming `path=value` and what is allowed when the value fails its check."""
    check = param.check
    if isinstance(value, float) and not math.isfinite(value):  # inf passes ">= 0"; nan fails all
        raise ConfigError(f"{path}={value} is out of range: must be a finite number")
    if isinstance(value, float) and abs(value) > FLOAT32_MAX:  # traced as float32: it would be inf
        raise ConfigError(
            f"{path}={value} is out of range: must be a finite float32 (|x| <= {FLOAT32_MAX:.4g})"
        )
    if check is None or value is None or check.ok(value):
        return
    if check.choices is not None:
        raise ConfigError(f"{path}={value!r} is not allowed; {check.rule}")
    raise ConfigError(f"{path}={value} is out of range: {check.rule}")


def check_all(prefix: str, values: Any, params: dict[str, Param]) -> None:
    for name, param in params.items():
        if name in values:
            check_value(f"{prefix}{name}", values[name], param)


def schema(name: str, params: dict[str, Param], **nested: type) -> type:
    """A dataclass (a Hydra structured-config schema) with one field per declaration, plus
    `nested` schemas (field name -> dataclass, built by default)."""
    fields = [(k, p.type, dataclasses.field(default=p.default)) for k, p in params.items()]
    fields += [(k, v, dataclasses.field(default_factory=v)) for k, v in nested.items()]
    return dataclasses.make_dataclass(name, fields)


def per_solver(solver_name: str, values: dict, default: Any) -> Any:
    """The `per_solver` config resolver: `${per_solver:${solver.name},{penalty: 0.05},1.0}` is a
    protocol value that depends on the job's solver, `default` for the solvers not listed."""
    return values.get(solver_name, default)


def unknown_choice(kind: str, value: str, options: list[str], budget: int = 180) -> str:
    """One line of about `budget` characters for an unknown option, the closest one named first:
    "unknown solver 'kbeem'; did you mean 'kbeam'? allowed: ..." (a long list cut, with its count)."""
    import difflib

    close = difflib.get_close_matches(value, options, n=1)
    head = f"unknown {kind} {value!r}" + (f"; did you mean {close[0]!r}?" if close else "")
    listed: list[str] = []
    for option in options:
        if len(head) + len(", ".join([*listed, option])) + 45 > budget:
            break
        listed.append(option)
    more = f", ... ({len(options)} in all: gamebench --help)" if len(listed) < len(options) else ""
    return f"{head}{' ' if close else '; '}allowed: {', '.join(listed)}{more}"


def check_known_keys(node: Any, prefix: str = "") -> None:
    """Refuse keys a schema does not declare (`+trails=10` would otherwise run with the typo
    ignored), naming the closest declared key."""
    import difflib

    from omegaconf import DictConfig, OmegaConf

    if not dataclasses.is_dataclass(OmegaConf.get_type(node)):
        return
    declared = [f.name for f in dataclasses.fields(OmegaConf.get_type(node))]
    for key in node.keys():
        if key not in declared:
            close = difflib.get_close_matches(str(key), declared, n=1)
            hint = f"; did you mean '{prefix}{close[0]}'?" if close else ""
            raise ConfigError(f"unknown key '{prefix}{key}'{hint}")
        if isinstance(node._get_node(key), DictConfig):
            check_known_keys(node._get_node(key), f"{prefix}{key}.")
