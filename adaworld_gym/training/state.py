"""Resumable training state in safetensors + JSON (no pickle): module weights, optimizer moments, RNG, step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from adaworld_gym.io import atomic_path, read_json, write_json

TENSORS_FILE = "train_state.safetensors"
JSON_FILE = "train_state.json"


def save_train_state(folder: str | Path, step: int, modules: dict[str, nn.Module], optimizer: torch.optim.Optimizer,
                     extra: dict[str, Any]) -> None:
    """Write the state atomically; the JSON goes last and names the step, so a torn write is detected."""
    folder = Path(folder)
    tensors = {f"{name}/{key}": value.detach().cpu().contiguous()
               for name, module in modules.items() for key, value in module.state_dict().items()}
    optim = optimizer.state_dict()
    for param_id, slots in optim["state"].items():
        for slot, value in slots.items():
            tensors[f"optimizer/{param_id}/{slot}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors["rng/torch"] = torch.get_rng_state()
    tensors["step"] = torch.tensor(step)
    with atomic_path(folder / TENSORS_FILE) as tmp:
        save_file(tensors, str(tmp))
    write_json(folder / JSON_FILE, {"step": step, "param_groups": optim["param_groups"], "extra": extra})


def has_train_state(folder: str | Path) -> bool:
    return (Path(folder) / JSON_FILE).is_file()


def load_train_state(folder: str | Path, modules: dict[str, nn.Module], optimizer: torch.optim.Optimizer) -> dict:
    """Restore what `save_train_state` wrote into the given modules and optimizer; returns the JSON part."""
    folder = Path(folder)
    meta = read_json(folder / JSON_FILE, "training state")
    tensors = load_file(str(folder / TENSORS_FILE))
    if int(tensors["step"]) != meta["step"]:
        raise ValueError(f"{folder}: training state files disagree (step {int(tensors['step'])} vs {meta['step']})")
    for name, module in modules.items():
        prefix = f"{name}/"
        module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer/"):
            _, param_id, slot = key.split("/")
            state.setdefault(int(param_id), {})[slot] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    torch.set_rng_state(tensors["rng/torch"])
    return meta
