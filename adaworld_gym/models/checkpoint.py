"""Self-describing checkpoints: `config.json` (kind, code version, model config, what it was trained for) plus
`model.safetensors`. Never pickle. Loading checks the kind and refuses files that are missing or corrupt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from adaworld_gym.io import atomic_path, read_json, write_json
from adaworld_gym.version import __version__

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, of another kind, or made for other data than asked."""


def save_checkpoint(folder: str | Path, kind: str, config: dict[str, Any], state: dict[str, torch.Tensor],
                    metadata: dict[str, Any], dtype: torch.dtype | None = None) -> Path:
    """Write weights (cast to `dtype` if given, e.g. float16 to ship small) then the config, each atomically."""
    folder = Path(folder)
    tensors = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).detach().cpu().contiguous()
               for k, v in state.items()}
    with atomic_path(folder / WEIGHTS_FILE) as tmp:
        save_file(tensors, str(tmp))
        tmp.chmod(0o644)  # safetensors creates the file private; weights are meant to be shared and shipped
    write_json(folder / CONFIG_FILE, {"kind": kind, "code_version": __version__, "config": config,
                                      "metadata": metadata})
    return folder


def load_checkpoint(folder: str | Path, kind: str) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any]]:
    """Return (config, float32 state dict, metadata) of a checkpoint folder of the given kind."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no checkpoint folder here")
    try:
        raw = read_json(folder / CONFIG_FILE, f"{kind} checkpoint config")
    except (FileNotFoundError, ValueError) as err:
        raise CheckpointError(str(err)) from err
    if raw.get("kind") != kind:
        raise CheckpointError(f"{folder}: a {raw.get('kind')!r} checkpoint, not a {kind!r} one")
    try:
        state = load_file(str(folder / WEIGHTS_FILE))
    except (SafetensorError, FileNotFoundError, OSError) as err:
        raise CheckpointError(f"{folder / WEIGHTS_FILE}: missing or corrupt weights ({err})") from err
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    return raw["config"], state, raw.get("metadata", {})


def drop_retired(folder: str | Path, config: dict[str, Any], retired: dict[str, Any]) -> dict[str, Any]:
    """A saved model config without the options removed since (RESULTS.md names the commit that had each): one
    that holds the behaviour kept is dropped, one that needs the removed behaviour is refused."""
    config = dict(config)
    for name, kept in retired.items():
        if name in config and (value := config.pop(name)) != kept:
            raise CheckpointError(f"{folder}: made with {name}={value!r}, an option since removed (only {kept!r} "
                                  "is left; RESULTS.md names the commit that had it)")
    return config


def check_expected(folder: str | Path, found: dict[str, Any], expected: dict[str, Any]) -> None:
    """Fail loudly when a checkpoint was made for other settings (resolution, latent size, games...)."""
    wrong = {k: (found.get(k), v) for k, v in expected.items() if v is not None and found.get(k) != v}
    if wrong:
        detail = ", ".join(f"{k}: checkpoint has {have!r}, expected {want!r}" for k, (have, want) in wrong.items())
        raise CheckpointError(f"{folder}: made for other settings ({detail})")
