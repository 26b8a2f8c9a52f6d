"""Where frames come from: batched pixel environments (Procgen, Atari, ViZDoom) and folders of video files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

from adaworld_gym.envs.procgen_games import PROCGEN_GAMES
from adaworld_gym.envs.procgen_vector import ProcgenRealVectorEnv

SOURCES = ("procgen", "atari", "vizdoom", "video")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")

# ViZDoom's scenarios (named as their .cfg files), Discrete: one button at a time or none. Left out: deathmatch
# (its actions include continuous turn deltas) and basic's audio/notification variants (basic's frames).
DOOM_SCENARIOS: dict[str, str] = {
    "basic": "VizdoomBasic-v1", "deadly_corridor": "VizdoomDeadlyCorridor-v1",
    "defend_the_center": "VizdoomDefendCenter-v1", "defend_the_line": "VizdoomDefendLine-v1",
    "health_gathering": "VizdoomHealthGathering-v1", "health_gathering_supreme": "VizdoomHealthGatheringSupreme-v1",
    "my_way_home": "VizdoomMyWayHome-v1", "predict_position": "VizdoomPredictPosition-v1",
    "take_cover": "VizdoomTakeCover-v1",
}
# Whole Freedoom maps (open assets shipped with vizdoom; the Doom and Doom II ids need commercial WADs), MultiBinary
# over 19 buttons, at Doom's default skill 3 ("Hurt me plenty").
DOOM_MAPS: dict[str, str] = {
    **{f"freedoom1_e{e}m{m}": f"VizdoomFreedoom1E{e}M{m}-S3-v0" for e in range(1, 5) for m in range(1, 10)},
    **{f"freedoom2_map{m:02d}": f"VizdoomFreedoom2MAP{m:02d}-S3-v0" for m in range(1, 33)},
}
# A map runs for an hour of game time unless the player dies; cut it at a minute (35 steps a second), the
# scenarios' own timeout, so held-random play yields many episodes from the start rather than one wander.
DOOM_MAP_STEPS = 2100


class MissingExtraError(ImportError):
    """An optional dependency (a `pip install -e .[extra]`) that the request needs is not installed."""


def resize_frame(frame: np.ndarray, resolution: int) -> np.ndarray:
    """Square RGB uint8 frame of `resolution` pixels; area interpolation keeps thin sprites visible."""
    if frame.shape[:2] == (resolution, resolution):
        return frame
    return cv2.resize(frame, (resolution, resolution), interpolation=cv2.INTER_AREA)


def resized(env: gym.Env, resolution: int) -> gym.Env:
    """`env` with its RGB frames resized by `resize_frame`."""
    space = gym.spaces.Box(0, 255, (resolution, resolution, 3), dtype=np.uint8)
    return gym.wrappers.TransformObservation(env, lambda frame: resize_frame(frame, resolution), space)


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


def doom_game(game: str) -> str:
    """The ViZDoom scenario or Freedoom map named "my_way_home", "doom/my_way_home" or "freedoom1_e1m1"."""
    name = game.removeprefix("doom/")
    if name not in DOOM_SCENARIOS and name not in DOOM_MAPS:
        raise ValueError(f"unknown ViZDoom game {game!r}; scenarios: {', '.join(DOOM_SCENARIOS)}; maps: "
                         "freedoom1_e1m1 .. freedoom1_e4m9, freedoom2_map01 .. freedoom2_map32")
    return name


def register_vizdoom() -> None:
    """Register ViZDoom's Gymnasium ids, or say how to install it."""
    try:
        import vizdoom.gymnasium_wrapper  # noqa: F401 (registers the Vizdoom* ids)
    except ImportError as err:
        raise MissingExtraError(f"ViZDoom is not installed ({err}); install the doom extra: "
                                "pip install -e .[doom]") from err


def is_vizdoom(env_id: str) -> bool:
    """Whether a Gymnasium id ("VizdoomBasic-v1", or "vizdoom.gymnasium_wrapper:VizdoomBasic-v1") is ViZDoom's."""
    return env_id.rpartition(":")[2].startswith("Vizdoom")


class DoomEpisodeEnd(gym.Wrapper):
    """A ViZDoom env whose episode ends are like Procgen's: ViZDoom has no screen once an episode is over (it
    returns zeros), so the last observation stands in for it and the collectors leave that transition out
    (`renders_final_frame`); and a timeout is truncated, not terminated (ViZDoom reports both)."""

    renders_final_frame = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self.last, info = self.env.reset(seed=seed, options=options)
        return self.last, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if not terminated:
            self.last = obs
        return self.last, reward, terminated and not truncated, truncated, info


def doom_action_names(env: gym.Env) -> list[str]:
    """What each action of a ViZDoom env presses, for keyboard play: per Discrete action its buttons joined by
    "+" ("NOOP" for none; the scenarios press one at most), or per MultiBinary entry its button."""
    doom = env.unwrapped
    buttons = [button.name for button in doom.game.get_available_buttons()]
    if not isinstance(doom.action_space, gym.spaces.Discrete):
        return buttons
    return ["+".join(b for b, on in zip(buttons, pressed) if on) or "NOOP" for pressed in doom.button_map]


class DoomFrames(gym.Wrapper):
    """A ViZDoom env shaped like the collector's other sources: the `screen` entry of its Dict observations, resized to
    (resolution, resolution, 3) uint8, with `DoomEpisodeEnd`'s episode ends, and integer actions. MultiBinary
    buttons are taken as the bits of one integer (bit i presses button i), so the integer policies and episode
    files serve maps too: a uniform integer is a fair coin per button, held as a whole by the held policy."""

    def __init__(self, env: gym.Env, resolution: int):
        super().__init__(DoomEpisodeEnd(env))
        self.resolution = resolution
        self.observation_space = gym.spaces.Box(0, 255, (resolution, resolution, 3), dtype=np.uint8)
        space = env.action_space
        self.buttons = int(space.shape[0]) if isinstance(space, gym.spaces.MultiBinary) else 0
        if self.buttons:
            self.action_space = gym.spaces.Discrete(2 ** self.buttons)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        return resize_frame(obs["screen"], self.resolution), info

    def step(self, action):
        if self.buttons:
            action = ((int(action) >> np.arange(self.buttons)) & 1).astype(self.env.action_space.dtype)
        obs, reward, terminated, truncated, info = self.env.step(action)
        return resize_frame(obs["screen"], self.resolution), reward, terminated, truncated, info


def _same_step_vector(env_id: str, num_envs: int, wrapper: Callable[[gym.Env], gym.Env], **env_kwargs) -> VectorEnv:
    """`num_envs` copies of a registered env, each wrapped, stepped in turn, restarting within the ending step."""
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP}, wrappers=[wrapper], **env_kwargs)


def make_frame_source(source: str, game: str, num_envs: int, resolution: int, *, distribution_mode: str = "hard",
                      start_level: int = 0, num_levels: int = 0, actions: str = "full") -> VectorEnv:
    """A vector env with same-step autoreset whose observations are (N, resolution, resolution, 3) uint8."""
    if source == "procgen":
        if resolution != 64:
            raise ValueError(f"Procgen renders 64x64 frames; resolution {resolution} is not supported for it")
        return ProcgenRealVectorEnv(num_envs, game, distribution_mode=distribution_mode, start_level=start_level,
                                    num_levels=num_levels, actions=actions)
    if source == "atari":
        return _same_step_vector(atari_env_id(game), num_envs, lambda env: resized(env, resolution))
    if source == "vizdoom":
        register_vizdoom()
        name = doom_game(game)
        # The source reads `screen` alone: the maps' automap and audio buffers would only cost time.
        options = {"episode_timeout": DOOM_MAP_STEPS, "automap_buffer_enabled": False,
                   "audio_buffer_enabled": False} if name in DOOM_MAPS else {}
        env = _same_step_vector(DOOM_SCENARIOS.get(name) or DOOM_MAPS[name], num_envs,
                                lambda e: DoomFrames(e, resolution), **options)
        env.renders_final_frame = False  # see DoomEpisodeEnd
        return env
    raise ValueError(f"unknown environment source {source!r}; choose 'procgen', 'atari' or 'vizdoom' (video "
                     "folders are ingested with `adaworld ingest-videos`)")


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
    if source == "vizdoom":
        return ["doom/" + doom_game(g) for g in games]
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
