"""Loading and validating the pipeline configuration.

The schema (``vocalmix/schemas/config.schema.yaml``, package data, linked as
``workflow/schemas/``; JSON Schema draft 2020-12) is the single source of truth for keys,
types, allowed values and defaults. Validation fills in
defaults and, on failure, raises one :class:`ConfigError` listing every problem with the
dotted key, the offending value and what is allowed (with a spelling suggestion for
unknown keys), before any job runs.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import os
from copy import deepcopy
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, TypeVar

__all__ = ["ConfigError", "SCHEMA_DIR", "load_schema", "validate_config", "load_config",
           "schema_defaults", "schema_settings"]

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"  # package data: ships in the wheel


class ConfigError(ValueError):
    """The configuration does not satisfy the schema."""


def load_schema(name: str = "config.schema.yaml") -> dict:
    """The parsed YAML schema ``name`` shipped in the package (``vocalmix/schemas/``).

    Parsed with libyaml's safe loader where PyYAML has it (the same objects as
    ``yaml.safe_load``, about 6 times faster: every command and pipeline job that builds a
    settings class reads the schema at import)."""
    import yaml

    path = SCHEMA_DIR / name
    with open(path) as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _defaulting_validator(schema: dict):
    """A Draft 2020-12 validator class that fills in ``default`` values while validating."""
    from jsonschema import Draft202012Validator, validators

    base_props = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub and key not in instance:
                    instance[key] = deepcopy(sub["default"])
        yield from base_props(validator, properties, instance, schema)

    cls = validators.extend(Draft202012Validator, {"properties": set_defaults})
    return cls(schema)


def _dotted(path) -> str:
    parts = []
    for p in path:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts) or "(top level)"


def _describe(error) -> str:
    key = _dotted(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = [k for k in error.instance if k not in schema.get("properties", {})]
        msgs = []
        for k in extra:
            where = f"{key}.{k}" if error.absolute_path else k
            hint = difflib.get_close_matches(k, allowed, n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            msgs.append(
                f"unknown key '{where}'{suggestion}; allowed keys here: {', '.join(allowed)}"
            )
        return "\n".join(msgs)
    if error.validator == "enum":
        return (
            f"key '{key}': {error.instance!r} is not allowed; "
            f"allowed values: {', '.join(map(repr, error.validator_value))}"
        )
    desc = schema.get("description")
    extra = f" ({desc})" if desc else ""
    return f"key '{key}': {error.message}{extra}"


_SCALARS = {"integer": int, "number": (int, float), "boolean": bool}


def _coerce_strings(instance: Any, schema: dict) -> Any:
    """Typed values for strings that spell one where the schema wants a number or boolean.

    ``snakemake --config 'train={max_epochs: 5}'`` reads nested values as strings ("5");
    they are parsed (YAML scalars) when, and only when, that gives the type the key wants.
    Anything else is left for the validator to report. Works in place on dicts and lists.
    """
    import yaml

    if not isinstance(schema, dict):
        return instance
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        for key, value in instance.items():
            if key in props:
                instance[key] = _coerce_strings(value, props[key])
        return instance
    if isinstance(instance, list):
        items = schema.get("items")
        return [_coerce_strings(v, items) for v in instance] if items else instance
    wanted = schema.get("type")
    if not isinstance(instance, str) or wanted not in _SCALARS:
        return instance
    text = instance.strip()
    try:
        if wanted == "integer":
            return int(text)
        if wanted == "number":
            value = float(text)
            return value if math.isfinite(value) else instance
        value = yaml.safe_load(text)
        return value if isinstance(value, bool) else instance
    except (ValueError, yaml.YAMLError):
        return instance


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Validate ``config`` in place against the schema, filling in defaults.

    Returns
    -------
    dict
        The same dict, with defaults filled in.

    Raises
    ------
    ConfigError
        Listing every problem, each naming the key and the allowed values.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"the configuration must be a mapping, got {type(config).__name__}")
    schema = load_schema() if schema is None else schema
    _coerce_strings(config, schema)
    validator = _defaulting_validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path)))
    if errors:
        lines = [_describe(e) for e in errors]
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(lines))
    return config


def load_config(path: str | os.PathLike, overrides: dict | None = None) -> dict:
    """Read a YAML config, apply nested ``overrides`` and validate it."""
    import yaml

    with open(path) as fh:
        config = yaml.safe_load(fh) or {}
    if overrides:
        _merge(config, overrides)
    return validate_config(config)


def _merge(base: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def get(config: dict, dotted: str, default: Any = None) -> Any:
    """``get(config, "demo.songs")``: a nested value by dotted key."""
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


@functools.lru_cache(maxsize=None)
def _config_schema() -> dict:
    return load_schema()


def _filled(schema: dict) -> Any:
    """A schema node's default; an object's default has its properties' defaults filled in."""
    value = deepcopy(schema.get("default"))
    if isinstance(value, dict) and schema.get("type") == "object":
        for key, sub in schema.get("properties", {}).items():
            if key not in value and isinstance(sub, dict) and "default" in sub:
                value[key] = _filled(sub)
    return value


def schema_defaults(section: str) -> dict:
    """The schema's defaults of one config section, nested sections filled in.

    Parameters
    ----------
    section
        Dotted key of an object in the config schema, e.g. ``"train"`` or
        ``"listening.simulation"``; ``""`` is the top level (``seed``, ``sample_rate``...).

    Returns
    -------
    dict
        Key -> default for every key of the section that has one (keys without a default,
        such as optional paths, are absent).
    """
    node = _config_schema()
    for part in section.split(".") if section else ():
        props = node.get("properties", {}) if isinstance(node, dict) else {}
        if part not in props:
            raise KeyError(f"the config schema has no section {section!r}")
        node = props[part]
    if node.get("type") != "object":
        raise KeyError(f"config schema key {section!r} is not a section (an object)")
    return {key: _filled(sub) for key, sub in node.get("properties", {}).items()
            if isinstance(sub, dict) and "default" in sub}


def _frozen(value: Any) -> Any:
    """Lists as tuples and dicts as read-only mappings, recursively: settings never change."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    return value


S = TypeVar("S")


def schema_settings(section: str, *, nested: Mapping[str, type] | None = None,
             defaults: Mapping[str, Any] | None = None) -> Callable[[type[S]], type[S]]:
    """Class decorator: a frozen dataclass whose field defaults are the config schema's.

    Every annotated field of the class takes its default from the schema's ``default`` of
    the same key in ``section``; the class fails to import when one has none, unless it is
    given in ``defaults`` (for a key the schema leaves optional, with the reason in the class
    docstring). Fields named in ``nested`` hold the settings class of a sub-section. Lists
    become tuples and mappings read-only. The class gets ``from_mapping(mapping)``, which
    builds it from a config section (a Snakemake ``params`` entry), rejecting unknown keys.

    Parameters
    ----------
    section
        Dotted key of the config section, e.g. ``"train"``.
    nested
        Field name -> settings class of a sub-section (e.g. ``simulation`` of ``listening``).
    defaults
        Defaults for fields whose schema key has no ``default``.
    """
    nested = dict(nested or {})
    explicit = dict(defaults or {})

    def wrap(cls: type[S]) -> type[S]:
        from_schema = schema_defaults(section)
        for name in cls.__dict__.get("__annotations__", {}):
            if name in nested:
                default: Any = dataclasses.field(default_factory=nested[name])
            elif name in explicit:
                default = _frozen(explicit[name])
            elif name in from_schema:
                default = _frozen(from_schema[name])
            else:
                raise TypeError(f"{cls.__name__}.{name}: config section {section!r} gives "
                                f"no default for {name!r}")
            if isinstance(default, MappingProxyType):
                default = dataclasses.field(default_factory=functools.partial(
                    MappingProxyType, dict(default)))
            setattr(cls, name, default)
        data = dataclasses.dataclass(frozen=True)(cls)

        def from_mapping(klass: type[S], mapping: Mapping[str, Any] | None) -> S:
            """The settings of a config section given as a mapping; missing keys default."""
            values = dict(mapping or {})
            known = {f.name for f in dataclasses.fields(klass)}
            unknown = sorted(set(values) - known)
            if unknown:
                hints = [f"{k} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(
                    k, sorted(known), n=1)) else k for k in unknown]
                raise ConfigError(f"{section}: unknown setting(s) {', '.join(hints)}; "
                                  f"known: {', '.join(sorted(known))}")
            kwargs = {k: (nested[k].from_mapping(v) if k in nested and isinstance(v, Mapping)
                          else _frozen(v)) for k, v in values.items()}
            return klass(**kwargs)

        data.from_mapping = classmethod(from_mapping)
        data.section = section
        return data

    return wrap
