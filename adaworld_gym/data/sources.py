"""Where frames come from: batched pixel environments (Procgen, Atari) and folders of video files."""

from __future__ import annotations

from pathlib import Path

import cv2
import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

from adaworld_gym.envs.procgen_games import PROCGEN_GAMES
from adaworld_gym.envs.procgen_vector import ProcgenRealVectorEnv

SOURCES = ("procgen", "atari", "video")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


def resize_frame(frame: np.ndarray, resolution: int) -> np.ndarray:
    """Square RGB uint8 frame of `resolution` pixels; area interpolation keeps thin sprites visible."""
    if frame.shape[:2] == (resolution, resolution):
        return frame
    return cv2.resize(frame, (resolution, resolution), interpolation=cv2.INTER_AREA)


def atari_env_id(game: str) -> str:
    """Gymnasium id of an Atari game given as "Pong", "atari/Pong" or "ALE/Pong-v5"."""
    import ale_py

    gym.register_envs(ale_py)
    name = game.removeprefix("atari/").removeprefix("ALE/").removesuffix("-v5")
    env_id = f"ALE/{name}-v5"
    if env_id not in gym.registry:
        known = sorted(k[4:-3] for k in gym.registry if k.startswith("ALE/") and k.endswith("-v5"))
        raise ValueError(f"unknown Atari game {game!r}; ale-py knows: {', '.join(known)}")
    return env_id


def make_frame_source(source: str, game: str, num_envs: int, resolution: int, *, distribution_mode: str = "hard",
                      start_level: int = 0, num_levels: int = 0, actions: str = "full") -> VectorEnv:
    """A vector env with same-step autoreset whose observations are (N, resolution, resolution, 3) uint8."""
    if source == "procgen":
        if resolution != 64:
            raise ValueError(f"Procgen renders 64x64 frames; resolution {resolution} is not supported for it")
        return ProcgenRealVectorEnv(num_envs, game, distribution_mode=distribution_mode, start_level=start_level,
                                    num_levels=num_levels, actions=actions)
    if source == "atari":
        space = gym.spaces.Box(0, 255, (resolution, resolution, 3), dtype=np.uint8)
        resize = lambda env: gym.wrappers.TransformObservation(env, lambda o: resize_frame(o, resolution), space)
        return gym.make_vec(atari_env_id(game), num_envs=num_envs, vectorization_mode="sync",
                            vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP}, wrappers=[resize])
    raise ValueError(f"unknown environment source {source!r}; choose 'procgen' or 'atari' (video folders are "
                     "ingested with `collect --source video`)")


def check_games(source: str, games: list[str]) -> list[str]:
    """Validate game names for a source and return their canonical dataset names."""
    if not games:
        raise ValueError("give at least one game")
    if source == "procgen":
        unknown = [g for g in games if g not in PROCGEN_GAMES]
        if unknown:
            raise ValueError(f"unknown Procgen games {unknown}; choose from: {', '.join(PROCGEN_GAMES)}")
        return list(games)
    if source == "atari":
        return ["atari/" + atari_env_id(g)[4:-3] for g in games]
    raise ValueError(f"unknown source {source!r}; choose one of {SOURCES}")


def list_videos(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder of videos")
    videos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise ValueError(f"{folder}: no video files ({', '.join(VIDEO_SUFFIXES)})")
    return videos


def read_video(path: str | Path, resolution: int, every: int = 1) -> np.ndarray:
    """All frames of a video file (every `every`-th), resized to (T, resolution, resolution, 3) RGB uint8."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"{path}: OpenCV cannot open this video")
    frames, index = [], 0
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        if index % every == 0:
            frames.append(resize_frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), resolution))
        index += 1
    capture.release()
    if len(frames) < 2:
        raise ValueError(f"{path}: fewer than 2 readable frames")
    return np.stack(frames)
