"""Config validation: defaults, typos and bad values stop the run with a clear message."""

from __future__ import annotations

import copy

import pytest
import yaml

from tests.conftest import REPO
from vocalmix.config import ConfigError, load_config, validate_config


def default_config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_shipped_config_is_valid():
    validate_config(default_config())


def test_defaults_are_filled_in():
    cfg = validate_config({})
    assert cfg["sample_rate"] == 44100
    assert cfg["datasets"] == [{"adapter": "demo", "split": "auto", "weight": 1.0}]
    assert cfg["demo"]["songs"] == 48
    assert cfg["ingest"]["min_duration_s"] == 3.0
    assert cfg["train"]["inputs"]["eq"] == ["vocal", "backing"]


def test_schema_defaults_are_the_shipped_config():
    """config.yaml spells out exactly the schema's defaults (the two cannot drift apart)."""
    assert validate_config({}) == validate_config(default_config())


def test_command_line_strings_become_the_wanted_types():
    """``snakemake --config 'train={max_epochs: 5}'`` passes nested values as strings."""
    cfg = validate_config({"train": {"max_epochs": "5", "learning_rate": "1e-3",
                                     "channels": ["8", "16"]},
                           "corruption": {"dereverb": "false"}})
    assert cfg["train"]["max_epochs"] == 5 and cfg["train"]["channels"] == [8, 16]
    assert cfg["train"]["learning_rate"] == pytest.approx(1e-3)
    assert cfg["corruption"]["dereverb"] is False
    with pytest.raises(ConfigError, match="train.max_epochs"):
        validate_config({"train": {"max_epochs": "five"}})
    with pytest.raises(ConfigError, match="train.max_epochs"):
        validate_config({"train": {"max_epochs": "2.5"}})


def test_every_schema_key_is_in_config_yaml():
    """config.yaml documents every top-level section the schema knows."""
    from vocalmix.config import load_schema

    assert set(load_schema()["properties"]) == set(default_config())


def test_typo_names_the_key_and_suggests():
    cfg = default_config()
    cfg["sampel_rate"] = 44100
    with pytest.raises(ConfigError) as exc:
        validate_config(cfg)
    msg = str(exc.value)
    assert "sampel_rate" in msg and "did you mean 'sample_rate'" in msg


def test_nested_typo():
    cfg = default_config()
    cfg["demo"]["song"] = 3
    with pytest.raises(ConfigError, match=r"demo\.song"):
        validate_config(cfg)


def test_bad_value_lists_allowed_values():
    cfg = default_config()
    cfg["sample_rate"] = 44000
    with pytest.raises(ConfigError) as exc:
        validate_config(cfg)
    assert "sample_rate" in str(exc.value) and "44100" in str(exc.value)


def test_bad_adapter_and_missing_root():
    cfg = default_config()
    cfg["datasets"] = [{"adapter": "musdb"}]
    with pytest.raises(ConfigError, match="musdb18hq"):
        validate_config(copy.deepcopy(cfg))
    cfg["datasets"] = [{"adapter": "musdb18hq"}]
    with pytest.raises(ConfigError, match="root"):
        validate_config(cfg)


def test_range_violation():
    cfg = default_config()
    cfg["demo"]["songs"] = 0
    with pytest.raises(ConfigError, match=r"demo\.songs.*minimum"):
        validate_config(cfg)


def test_load_config_with_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(default_config()))
    cfg = load_config(path, {"demo": {"songs": 3}})
    assert cfg["demo"]["songs"] == 3 and cfg["demo"]["duration_s"] == 12


def test_the_schema_reads_the_same_with_the_fast_loader_as_with_safe_load():
    import yaml

    from vocalmix.config import SCHEMA_DIR, load_schema

    with open(SCHEMA_DIR / "config.schema.yaml") as fh:
        assert load_schema() == yaml.safe_load(fh)
