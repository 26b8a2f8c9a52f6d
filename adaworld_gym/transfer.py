"""Action transfer (AdaWorld section 4): read the latent actions of a source video, replay them elsewhere.

The source is a video file or a dataset episode; the target is an image file or a real Procgen level
(`game:level`, its first frame). The world model imagines the target doing what the source did.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from adaworld_gym.config_cli import check_at_least
from adaworld_gym.data.episodes import read_episode
from adaworld_gym.data.sources import read_video, resize_frame
from adaworld_gym.envs.procgen_batch import ProcgenBatch
from adaworld_gym.envs.procgen_games import PROCGEN_GAMES
from adaworld_gym.models.diffusion.sampler import SamplerConfig
from adaworld_gym.models.world_model import WorldModel
from adaworld_gym.video import contact_sheet, write_mp4

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


@dataclass
class TransferConfig:
    """Extract the source's latent actions and replay them from the target frame (side-by-side mp4 + PNG)."""

    source: Path  # video file (mp4, ...) or dataset episode (.h5) to take actions from
    target: str  # image file, or game:level (a real Procgen level's first frame)
    model: Path | None = None  # world model folder; none: the shipped one
    start: int = 0  # first source frame
    length: int = 16  # transitions to transfer
    denoising_steps: int = 3  # sampler steps per frame
    seed: int = 0  # seeds the sampler
    out: Path = Path("transfer")  # folder for transfer.mp4 and transfer.png

    def __post_init__(self) -> None:
        check_at_least(self, {"start": 0, "length": 1, "denoising_steps": 1})


def load_source(source: str | Path, resolution: int, start: int = 0, length: int = 16) -> np.ndarray:
    """Frames (length + 1, H, W, 3) uint8 of a video file or a dataset episode (.h5), from frame `start`."""
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such source video or episode file")
    if path.suffix.lower() in VIDEO_SUFFIXES:
        frames = read_video(path, resolution)
    elif path.suffix.lower() == ".h5":
        frames = read_episode(path).frames
        if frames.shape[1] != resolution:
            frames = np.stack([resize_frame(f, resolution) for f in frames])
    else:
        raise ValueError(f"{path}: a source is a video ({', '.join(VIDEO_SUFFIXES)}) or a dataset episode (.h5)")
    frames = frames[start:start + length + 1]
    if len(frames) < 2:
        raise ValueError(f"{path}: fewer than 2 frames from frame {start}")
    return frames


def load_target(target: str, resolution: int) -> np.ndarray:
    """The first frame (H, W, 3) uint8: an image file, or `game:level` for a real Procgen level's start."""
    path = Path(target)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{path}: OpenCV cannot read this image")
        return resize_frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), resolution)
    game, _, level = target.partition(":")
    if game not in PROCGEN_GAMES or not level.isdigit():
        raise ValueError(f"target {target!r} is neither an image file ({', '.join(IMAGE_SUFFIXES)}) nor "
                         "game:level with a Procgen game (e.g. coinrun:12)")
    frame = ProcgenBatch(game, 1, start_level=int(level), num_levels=1).obs[0]
    return frame if resolution == frame.shape[0] else resize_frame(frame, resolution)


@dataclass
class TransferResult:
    source: np.ndarray  # (T+1, H, W, 3)
    imagined: np.ndarray  # (T+1, H, W, 3): the target frame, then the imagined frames
    conditions: np.ndarray  # (T, condition_dim)


def transfer(model: WorldModel, source: np.ndarray, target: np.ndarray, sampler: SamplerConfig | None = None,
             seed: int = 0) -> TransferResult:
    """Replay the source's transitions (as the model's conditions) from the target frame."""
    to_t = lambda x: torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2)[None]
    conditions = model.label(to_t(source))
    imagined = model.rollout(to_t(target[None]), conditions, sampler, seed=seed)[0].permute(0, 2, 3, 1).cpu().numpy()
    return TransferResult(source, np.concatenate([target[None], imagined]), conditions[0].cpu().numpy())


def write_transfer(result: TransferResult, out: Path, name: str = "transfer") -> tuple[Path, Path]:
    """Side-by-side mp4 (source | imagined target) and a PNG strip (source row above imagined row)."""
    side = np.concatenate([result.source, result.imagined], axis=2)
    video = write_mp4(side, Path(out) / f"{name}.mp4", fps=8)
    strip = np.concatenate([result.source, result.imagined], axis=1)  # stacked vertically per frame
    sheet = contact_sheet(strip, Path(out) / f"{name}.png", columns=len(strip), max_frames=len(strip))
    return video, sheet
