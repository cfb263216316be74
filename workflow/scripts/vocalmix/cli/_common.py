"""What the subcommands share: messages, number formatting, the configuration's defaults."""

from __future__ import annotations

import math
import sys

__all__ = ["error", "fmt", "json_number", "config_defaults"]


def json_number(x: float) -> float | None:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def fmt(x: float, unit: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return f"   undefined {unit}"
    if math.isinf(x):
        return f"{'-inf' if x < 0 else 'inf':>12} {unit}"
    return f"{x:12.1f} {unit}"


def error(command: str, message: str) -> None:
    print(f"vocalmix {command}: {message}", file=sys.stderr)


def config_defaults() -> dict:
    from vocalmix.config import validate_config

    return validate_config({})
