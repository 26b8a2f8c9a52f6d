"""On-disk episode datasets: one compressed HDF5 file per complete episode, plus a `dataset.json`.

Layout of a dataset folder (format "adaworld-episodes", version 1):

    dataset.json                      what the data is (DatasetInfo): source, games, resolution, actions, levels
    episodes/<game>/<game>_0000000.h5 one episode each, written atomically (a crash leaves only *.tmp files)

Each episode file holds, for an episode of T steps:

    frames      (T+1, H, W, 3) uint8, gzip(1)-compressed in chunks of 4 frames (a 7-frame clip reads 2-3 chunks)
    actions     (T,) int64, the action taken at frames[t]; -1 throughout for action-free video; for buttons pressed
                in any combination (ViZDoom's maps, MultiBinary(n)) the bits of one integer, bit i = button i,
                and num_actions 2**n
    rewards     (T,) float32
    terminated  (T,) bool
    truncated   (T,) bool
    attributes  game (str), level (int), final_frame_observed (bool)

`final_frame_observed` is False where the environment never rendered the last frame (Procgen restarts within
the ending step; ViZDoom has no screen after it): there frames[T] repeats frames[T-1] and clip readers leave that
last transition out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from adaworld_gym.io import TMP_SUFFIX, atomic_path, read_json, write_json
from adaworld_gym.version import __version__

DATASET_FORMAT = "adaworld-episodes"
FORMAT_VERSION = 1
# Measured on mixed Procgen frames: gzip-1 in chunks of 4 frames stores ~1.9 KB/frame and reads a random 7-frame
# clip in ~0.2 ms; LZF in chunks of 16 stored ~6.3 KB/frame and took ~0.4 ms (benchmarks/collection_throughput.py).
CHUNK_FRAMES = 4


class CorruptEpisodeError(ValueError):
    """An episode file that cannot be read (truncated, corrupt, or not an episode)."""

    def __init__(self, path: str | Path, err: Exception):
        super().__init__(f"{path}: not a readable episode file ({err}); delete it or re-collect")


@dataclass
class Episode:
    """One episode, as stored in a file (see the module docstring) or played in memory."""

    frames: np.ndarray
    actions: np.ndarray  # (T,) int64 in files; in memory also (T, D) in an action space's own form
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    game: str
    level: int = -1
    final_frame_observed: bool = True

    def __post_init__(self) -> None:
        steps = len(self.actions)
        if self.frames.dtype != np.uint8 or self.frames.ndim != 4 or self.frames.shape[-1] != 3:
            raise ValueError(f"frames must be uint8 of shape (T+1, H, W, 3), got {self.frames.dtype} {self.frames.shape}")
        if len(self.frames) != steps + 1:
            raise ValueError(f"an episode of {steps} steps needs {steps + 1} frames, got {len(self.frames)}")
        for name in ("rewards", "terminated", "truncated"):
            if len(getattr(self, name)) != steps:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries for {steps} steps")

    @property
    def num_steps(self) -> int:
        return len(self.actions)

    @property
    def num_observed_frames(self) -> int:
        """Frames that were really rendered: all of them, or all but a placeholder last frame."""
        return len(self.frames) if self.final_frame_observed else len(self.frames) - 1


@dataclass
class DatasetInfo:
    """The `dataset.json` of a dataset folder: what was collected, from where, and how."""

    source: str  # "procgen", "atari", "vizdoom" or "video"
    games: list[str]
    resolution: int
    num_actions: dict[str, int] = field(default_factory=dict)  # per game; empty for action-free video
    policy: str = "none"
    start_level: int | None = None
    num_levels: int | None = None
    distribution_mode: str | None = None
    seed: int = 0
    format: str = DATASET_FORMAT
    format_version: int = FORMAT_VERSION
    created_with: str = f"adaworld-gym {__version__}"

    def settings(self) -> dict[str, Any]:
        """The fields that must match for a collection to continue into an existing folder."""
        return {k: v for k, v in asdict(self).items() if k not in ("created_with", "games", "num_actions")}


def _episode_name(game: str, index: int) -> str:
    return f"{game.replace('/', '-')}_{index:07d}.h5"


class EpisodeStore:
    """A dataset folder: create or reopen it, write episodes atomically, list and read them."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        raw = read_json(self.root / "dataset.json", "adaworld dataset (dataset.json)")
        if raw.get("format") != DATASET_FORMAT:
            raise ValueError(f"{self.root / 'dataset.json'}: not an {DATASET_FORMAT} dataset")
        if raw.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{self.root}: dataset format version {raw.get('format_version')} is not supported "
                             f"by this code (version {FORMAT_VERSION})")
        self.info = DatasetInfo(**raw)
        self._next_index: dict[str, int] = {}

    @classmethod
    def create(cls, root: str | Path, info: DatasetInfo) -> "EpisodeStore":
        """Create a dataset folder, or reopen one made with the same settings to continue it.

        Leftover temporary files of an interrupted write are removed; complete episodes are kept."""
        root = Path(root)
        if (root / "dataset.json").exists():
            store = cls(root)
            if store.info.settings() != info.settings():
                ours, theirs = info.settings(), store.info.settings()
                diff = {k: (theirs[k], ours[k]) for k in ours if ours[k] != theirs[k]}
                raise ValueError(f"{root} holds a dataset collected with other settings (existing, requested): "
                                 f"{diff}; choose another folder")
            store.info.games = sorted(set(store.info.games) | set(info.games))
            store.info.num_actions = {**store.info.num_actions, **info.num_actions}
        else:
            store = None
        write_json(root / "dataset.json", asdict(store.info if store else info))
        for tmp in root.glob(f"episodes/*/*{TMP_SUFFIX}"):
            tmp.unlink()
        return cls(root)

    def episode_paths(self, game: str | None = None) -> list[Path]:
        pattern = f"episodes/{game.replace('/', '-')}/*.h5" if game else "episodes/*/*.h5"
        return sorted(self.root.glob(pattern))

    def write(self, episode: Episode) -> Path:
        if episode.frames.shape[1:3] != (self.info.resolution, self.info.resolution):
            raise ValueError(f"frames of {episode.frames.shape[1:3]} do not match the dataset's resolution "
                             f"{self.info.resolution}")
        if episode.game not in self._next_index:
            existing = self.episode_paths(episode.game)
            self._next_index[episode.game] = int(re.findall(r"_(\d+)\.h5$", existing[-1].name)[0]) + 1 if existing else 0
        index = self._next_index[episode.game]
        path = self.root / "episodes" / episode.game.replace("/", "-") / _episode_name(episode.game, index)
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
            chunks = (min(CHUNK_FRAMES, len(episode.frames)), *episode.frames.shape[1:])
            f.create_dataset("frames", data=episode.frames, chunks=chunks, compression="gzip", compression_opts=1)
            f.create_dataset("actions", data=episode.actions.astype(np.int64))
            f.create_dataset("rewards", data=episode.rewards.astype(np.float32))
            f.create_dataset("terminated", data=episode.terminated.astype(bool))
            f.create_dataset("truncated", data=episode.truncated.astype(bool))
            f.attrs.update(game=episode.game, level=int(episode.level),
                           final_frame_observed=bool(episode.final_frame_observed))
        self._next_index[episode.game] = index + 1
        return path

    def num_steps(self, game: str | None = None) -> int:
        return sum(read_episode_header(p)["num_steps"] for p in self.episode_paths(game))


@contextmanager
def open_episode(path: str | Path) -> Iterator[h5py.File]:
    """Open an episode file for reading; a truncated or corrupt file raises CorruptEpisodeError naming it."""
    try:
        with h5py.File(path, "r") as f:
            yield f
    except (OSError, KeyError) as err:
        raise CorruptEpisodeError(path, err) from err


def read_episode_header(path: str | Path) -> dict[str, Any]:
    """Game, level, length and whether the last frame was observed, without reading the frames."""
    with open_episode(path) as f:
        return {"game": str(f.attrs["game"]), "level": int(f.attrs["level"]),
                "final_frame_observed": bool(f.attrs["final_frame_observed"]),
                "num_steps": int(f["actions"].shape[0]), "frame_shape": tuple(f["frames"].shape[1:])}


def read_episode(path: str | Path) -> Episode:
    with open_episode(path) as f:
        return Episode(frames=f["frames"][:], actions=f["actions"][:], rewards=f["rewards"][:],
                       terminated=f["terminated"][:], truncated=f["truncated"][:], game=str(f.attrs["game"]),
                       level=int(f.attrs["level"]), final_frame_observed=bool(f.attrs["final_frame_observed"]))
