"""Rule ``export_waet``: the WAET listening test."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from vocalmix.listening import MEDIA_DIR
from vocalmix.listening.export import README_NAME, ListeningSettings, export_test

__all__ = ["export_waet"]


def export_waet(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                params: Mapping[str, Any], threads: int = 1) -> dict:
    """Snakemake entry: ``inputs.renders`` -> ``outputs.test/key/readme/media``."""
    out_root = Path(outputs["test"]).parent.parent
    expected = {"key": out_root / "KEY.tsv", "readme": out_root / README_NAME,
                "media": out_root / MEDIA_DIR}
    for name, path in expected.items():
        if name in outputs and Path(outputs[name]) != path:
            raise ValueError(f"output {name} must be {path} (WAET root layout)")
    return export_test(inputs["renders"], out_root, seed=int(params["seed"]),
                       settings=ListeningSettings.from_mapping(params["listening"]))
