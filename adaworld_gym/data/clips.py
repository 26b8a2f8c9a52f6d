"""Clips of consecutive frames for training: random access from disk, or a live stream from the games.

A clip is a dict of torch tensors:
    frames   (clip_len, 3, H, W) uint8, oldest first
    actions  (clip_len - 1,) int64, the action between each pair of frames (-1 for action-free video)
    rewards  (clip_len - 1,) float32
    game     () int64, index into the `games` list of the dataset or stream
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from adaworld_gym.data.episodes import CorruptEpisodeError, EpisodeStore, read_episode_header
from adaworld_gym.data.policies import make_policy
from adaworld_gym.envs.procgen_batch import ProcgenBatch
from adaworld_gym.envs.procgen_games import episode_timeout, split_levels


def _clip(frames: np.ndarray, actions: np.ndarray, rewards: np.ndarray, game: int) -> dict[str, torch.Tensor]:
    return {"frames": torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2))),
            "actions": torch.from_numpy(actions.astype(np.int64)),
            "rewards": torch.from_numpy(rewards.astype(np.float32)),
            "game": torch.tensor(game, dtype=torch.int64)}


@dataclass
class _OpenEpisode:
    file: h5py.File
    frames: h5py.Dataset
    actions: np.ndarray
    rewards: np.ndarray


class ClipDataset(Dataset):
    """Every window of `clip_len` consecutive observed frames in one or more episode datasets.

    Only the episode headers are read up front; frames are read per clip, so datasets far larger than memory
    work, with DataLoader workers and shuffling. Datasets holding games or a resolution other than those asked
    for are refused, so data from another game cannot slip into training unnoticed.

    Args:
        roots: dataset folders (see `adaworld_gym.data.episodes`).
        clip_len: frames per clip (memory K plus the target frame: K + 1, at most 7 by default use).
        games: games to accept; None accepts those the datasets list. Episodes of other games raise an error.
        resolution: frame size to accept; None takes the first dataset's.
    """

    def __init__(self, roots: str | Path | list[str | Path], clip_len: int, games: list[str] | None = None,
                 resolution: int | None = None, max_open_files: int = 64):
        if clip_len < 2:
            raise ValueError(f"a clip needs at least 2 frames, got clip_len={clip_len}")
        roots = [roots] if isinstance(roots, (str, Path)) else list(roots)
        stores = [EpisodeStore(r) for r in roots]
        self.resolution = resolution or stores[0].info.resolution
        self.games = list(games) if games is not None else sorted({g for s in stores for g in s.info.games})
        paths, lengths, game_ids = [], [], []
        for store in stores:
            if store.info.resolution != self.resolution:
                raise ValueError(f"{store.root}: frames are {store.info.resolution}px, this loader reads "
                                 f"{self.resolution}px; do not mix resolutions")
            for path in store.episode_paths():
                header = read_episode_header(path)
                if header["game"] not in self.games:
                    raise ValueError(f"{path}: episode of game {header['game']!r}, but this loader was asked for "
                                     f"{self.games}")
                if header["frame_shape"] != (self.resolution, self.resolution, 3):
                    raise ValueError(f"{path}: frames of shape {header['frame_shape']} in a {self.resolution}px "
                                     "dataset")
                observed = header["num_steps"] + 1 - (not header["final_frame_observed"])
                paths.append(path)
                lengths.append(max(0, observed - clip_len + 1))
                game_ids.append(self.games.index(header["game"]))
        if not paths:
            raise ValueError(f"no episodes in {[str(r) for r in roots]}")
        self.clip_len = clip_len
        self.paths = paths
        self.game_ids = np.array(game_ids)
        self._ends = np.cumsum(lengths)
        if self._ends[-1] == 0:
            raise ValueError(f"no episode is long enough for clips of {clip_len} frames")
        self._files: OrderedDict[Path, _OpenEpisode] = OrderedDict()
        self._files_pid = os.getpid()
        self._max_open = max_open_files

    def __len__(self) -> int:
        return int(self._ends[-1])

    def _open(self, path: Path) -> _OpenEpisode:
        # h5py handles must not cross fork(): each DataLoader worker opens its own.
        if self._files_pid != os.getpid():
            self._files, self._files_pid = OrderedDict(), os.getpid()
        if path in self._files:
            self._files.move_to_end(path)
        else:
            if len(self._files) >= self._max_open:
                self._files.popitem(last=False)[1].file.close()
            f = h5py.File(path, "r")
            # Actions and rewards are tiny: read them once, so a clip costs one (chunked) frame read.
            self._files[path] = _OpenEpisode(f, f["frames"], f["actions"][:], f["rewards"][:])
        return self._files[path]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"clip {index} out of range for {len(self)} clips")
        episode = int(np.searchsorted(self._ends, index, side="right"))
        start = index - (int(self._ends[episode - 1]) if episode else 0)
        path = self.paths[episode]
        stop = start + self.clip_len
        try:
            ep = self._open(path)
            return _clip(ep.frames[start:stop], ep.actions[start:stop - 1], ep.rewards[start:stop - 1],
                         int(self.game_ids[episode]))
        except (OSError, KeyError) as err:  # a file damaged after the dataset was opened
            raise CorruptEpisodeError(path, err) from err


class LiveStream(IterableDataset):
    """An endless stream of training items played live from the games, through a shuffle buffer of
    `self.shuffle_buffer` items (0: in order); each DataLoader worker plays with its own seed."""

    seed: int
    shuffle_buffer: int

    def _items(self, seed: int):
        raise NotImplementedError

    def __iter__(self):
        worker = get_worker_info()
        seed = self.seed + 7919 * (worker.id if worker else 0)
        if not self.shuffle_buffer:
            yield from self._items(seed)
            return
        rng, buffer = np.random.default_rng(seed), []
        for item in self._items(seed):
            if len(buffer) < self.shuffle_buffer:
                buffer.append(item)
                continue
            index = int(rng.integers(len(buffer)))
            yield buffer[index]
            buffer[index] = item


class LiveClipStream(LiveStream):
    """Endless clips straight from running Procgen games: training with no dataset on disk at all.

    Each DataLoader worker runs its own `num_envs` copies of every game, with its own seed, under the behaviour
    policy, and yields a clip from each copy every `stride` steps once it has `clip_len` frames of one episode.
    Clips pass through a shuffle buffer of `shuffle_buffer` clips first: the games are stepped one after the
    other, and without it a batch would hold only one or two games (0 turns the buffer off).
    """

    def __init__(self, games: list[str], clip_len: int, *, num_envs: int = 16, policy: str = "held",
                 max_hold: int = 16, split: str = "train", distribution_mode: str = "hard", actions: str = "full",
                 stride: int | None = None, seed: int = 0, shuffle_buffer: int = 0):
        if clip_len < 2:
            raise ValueError(f"a clip needs at least 2 frames, got clip_len={clip_len}")
        self.games, self.clip_len, self.num_envs = list(games), clip_len, num_envs
        self.policy, self.max_hold, self.split = policy, max_hold, split
        self.distribution_mode, self.actions = distribution_mode, actions
        self.stride = stride or clip_len
        self.seed, self.shuffle_buffer = seed, shuffle_buffer
        split_levels(split)  # validate now, not in a worker

    def _items(self, seed: int):
        start, num = split_levels(self.split)
        batches = [ProcgenBatch(g, self.num_envs, distribution_mode=self.distribution_mode, start_level=start,
                                num_levels=num, actions=self.actions, seed=seed + i) for i, g in enumerate(self.games)]
        policies = [make_policy(self.policy, b.num_actions, self.num_envs, seed + i, max_hold=self.max_hold)
                    for i, b in enumerate(batches)]
        n, k = self.num_envs, self.clip_len
        frames = [np.repeat(b.obs[:, None], k, axis=1) for b in batches]  # ring of the last k frames per copy
        actions = [np.zeros((n, k - 1), dtype=np.int64) for _ in batches]
        rewards = [np.zeros((n, k - 1), dtype=np.float32) for _ in batches]
        run = [np.ones(n, dtype=np.int64) for _ in batches]  # frames of the current episode seen so far
        starts = [np.ones(n, dtype=bool) for _ in batches]
        while True:
            for g, batch in enumerate(batches):
                acts = policies[g](batch.obs, starts[g])
                step = batch.step(acts)
                ended = step.terminated | step.truncated
                frames[g] = np.roll(frames[g], -1, axis=1)
                frames[g][:, -1] = step.obs
                actions[g] = np.roll(actions[g], -1, axis=1)
                actions[g][:, -1] = acts
                rewards[g] = np.roll(rewards[g], -1, axis=1)
                rewards[g][:, -1] = step.rewards
                # Procgen never shows the frame an episode ends on: a new episode's first frame starts a new run.
                run[g] = np.where(ended, 1, run[g] + 1)
                starts[g] = ended
                for i in np.flatnonzero((run[g] >= k) & ((run[g] - k) % self.stride == 0)):
                    yield _clip(frames[g][i], actions[g][i], rewards[g][i], g)


def clip_loader(clip_len: int, batch_size: int, games: list[str], datasets: list[Path] | None, num_workers: int,
                seed: int, policy: str = "held") -> DataLoader:
    """Clips from dataset folders (shuffled, epochs) or, with no datasets, from a live Procgen stream."""
    if datasets:
        data = ClipDataset(datasets, clip_len=clip_len, games=games)
        return DataLoader(data, batch_size=batch_size, shuffle=True, num_workers=num_workers, drop_last=True,
                          persistent_workers=num_workers > 0)
    stream = LiveClipStream(games, clip_len=clip_len, num_envs=16, policy=policy, split="train", seed=seed,
                            shuffle_buffer=1024)
    return DataLoader(stream, batch_size=batch_size, num_workers=num_workers)


def test_clips(games: list[str] | tuple[str, ...], per_game: int, length: int, seed: int = 0,
               policy: str = "held") -> tuple[torch.Tensor, torch.Tensor]:
    """`per_game` clips of `length` consecutive frames of one episode per game, test levels, all 15 actions
    under `policy`: frames (N, length, 3, 64, 64) uint8 and actions (N, length - 1), games in order. A game whose
    episodes rarely last `length` frames (LONG_GAMES are ones that do) fails with an error once the other games
    have given 50 times their share, instead of streaming forever."""
    too_long = [g for g in games if length > episode_timeout(g, "hard")]
    if too_long:
        raise ValueError(f"clips of {length} frames are longer than any episode of {too_long}")
    picked: dict[int, list[dict]] = {g: [] for g in range(len(games))}
    stream = LiveClipStream(list(games), clip_len=length, num_envs=max(4, per_game), split="test", seed=seed,
                            stride=length, policy=policy)
    for seen, clip in enumerate(stream, start=1):
        g = int(clip["game"])
        if len(picked[g]) < per_game:
            picked[g].append(clip)
        if all(len(v) == per_game for v in picked.values()):
            break
        if seen > 50 * per_game * len(games):
            short = [games[g] for g, v in picked.items() if len(v) < per_game]
            raise ValueError(f"episodes of {short} rarely last {length} frames under the {policy!r} policy on test "
                             f"levels; use shorter clips or other games")
    clips = [c for g in range(len(games)) for c in picked[g]]
    return torch.stack([c["frames"] for c in clips]), torch.stack([c["actions"] for c in clips])
