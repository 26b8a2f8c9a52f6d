"""Named model sizes: every model config module keeps a PRESETS dict and picks from it with `choose_preset`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

Config = TypeVar("Config")


def choose_preset(presets: dict[str, Config], name: str, overrides: dict[str, Any]) -> Config:
    """The preset `name` with the overrides that are not None applied; a clear error for an unknown name."""
    if name not in presets:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(presets)}")
    return replace(presets[name], **{k: v for k, v in overrides.items() if v is not None})
