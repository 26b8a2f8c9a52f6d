"""Pretrained weights shipped inside the package (fp16 safetensors + JSON config), so nothing is downloaded.

    lam-cpu   the latent action autoencoder, `cpu` preset (CNN encoder, UNet decoder), trained here on all 16
              Procgen games (README: Results)
    wm-cpu    the world model (denoiser, with its frame autoencoder and latent action model inside), the
              simulator's default
    adapters  one per Procgen game and action subset (`<game>-full`, `<game>-moves`): the action table and the
              reward / episode-end model that make wm-cpu a simulator of that game
"""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent


def pretrained_path(name: str) -> Path:
    """Folder of a shipped checkpoint, e.g. `pretrained_path("lam-cpu")`; a clear error if it is not shipped."""
    path = WEIGHTS_DIR / name
    if not (path / "config.json").is_file():
        shipped = sorted(p.name for p in WEIGHTS_DIR.iterdir() if (p / "config.json").is_file())
        raise FileNotFoundError(f"no shipped weights named {name!r}; shipped: {shipped or 'none'}")
    return path
