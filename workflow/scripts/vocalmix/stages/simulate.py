"""Rule ``simulate_listeners``: the simulated listener panel."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Mapping

from vocalmix.listening.simulate import KAPPA, REFERENCE_SD, SimulationSettings, simulate_panel

__all__ = ["simulate_listeners"]


def simulate_listeners(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                       params: Mapping[str, Any], threads: int = 1) -> dict:
    """Snakemake entry: test XML, KEY.tsv, per_track.tsv -> simulated result files."""
    from vocalmix.files import write_json

    settings = SimulationSettings.from_mapping(params["simulation"])
    model = simulate_panel(
        inputs["test"], inputs["key"], inputs["metrics"], list(outputs["complete"]),
        list(outputs.get("abandoned", [])), seed=int(params["seed"]), settings=settings)
    if outputs.get("model"):
        write_json(outputs["model"], {"kappa": KAPPA, "reference_sd": REFERENCE_SD,
                                      **asdict(settings), **model})
    return model
