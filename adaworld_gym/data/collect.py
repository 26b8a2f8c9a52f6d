"""Collect episodes from batched environments (or video files) into an episode dataset, resumably; or play any
single Gymnasium environment into episodes in memory (`play_episodes`, the few-shot data of `adapt --env`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from adaworld_gym.config_cli import check_at_least
from adaworld_gym.data.episodes import DatasetInfo, Episode, EpisodeStore, open_episode, read_episode_header
from adaworld_gym.data.policies import (RANDOM_POLICIES, AgentPolicy, BehaviourPolicy, QuotaRandomPolicy,
                                        make_policy)
from adaworld_gym.data.sources import (DOOM_MAPS, check_games, doom_game, list_videos, make_frame_source,
                                      read_video, resize_frame)
from adaworld_gym.envs.procgen_games import resolve_games, split_levels


SPLITS = ("train", "test", "custom")


@dataclass
class CollectConfig:
    """Collect episodes (frames, actions, rewards, ends, game, level) into a dataset folder."""

    out: Path  # dataset folder (created, or continued if it exists)
    # Games: Procgen names ("all": the 16), Atari names like Pong,Breakout, or ViZDoom scenarios like
    # basic,my_way_home and Freedoom maps like freedoom1_e1m1 (pip install -e .[doom]).
    games: list[str]
    source: str = "procgen"  # procgen, atari or vizdoom
    frames_per_game: int = 10_000  # environment steps of complete episodes per game
    # Few-shot mode: exactly this many steps of each action, with one environment (policy random or held).
    per_action: int | None = None
    num_envs: int = 16  # environments stepped together
    policy: str = "held"  # random, held (random actions held 1..max_hold steps) or sb3 (a trained agent)
    max_hold: int = 16  # longest hold of the held policy
    agent: Path | None = None  # policy sb3: the agent/ folder `adaworld train-agent` writes
    split: str = "train"  # train (levels 1000-9999), test (levels 0-999), or custom (start_level, num_levels)
    start_level: int = 0  # first level, with split custom
    num_levels: int = 0  # number of levels, with split custom (0: unbounded)
    distribution_mode: str = "hard"  # Procgen distribution mode
    actions: str = "full"  # Procgen action subset: full, moves, moves_noop
    resolution: int = 64  # frames are resized to resolution x resolution
    seed: int = 0  # seeds the levels and the policy

    def __post_init__(self) -> None:
        if self.source == "procgen":
            self.games = resolve_games(self.games)
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; choose one of {SPLITS}")
        if self.per_action and self.policy not in RANDOM_POLICIES:
            raise ValueError(f"few-shot collection (per_action) draws random actions to fill each action's quota: "
                             f"policy must be 'random' or 'held', got {self.policy!r}")
        if self.policy == "sb3" and self.agent is None:
            raise ValueError("policy 'sb3' needs the agent folder written by `adaworld train-agent` (agent)")
        check_at_least(self, dict.fromkeys(("frames_per_game", "num_envs", "max_hold", "resolution", "per_action"), 1))

    def levels(self) -> tuple[int, int]:
        return (self.start_level, self.num_levels) if self.split == "custom" else split_levels(self.split)

    def dataset_info(self, games: list[str], num_actions: dict[str, int]) -> DatasetInfo:
        procgen = self.source == "procgen"
        start, num = self.levels()
        policy = f"fewshot-{self.per_action}" if self.per_action else self.policy
        if self.policy == "held":
            policy += f"-held-{self.max_hold}" if self.per_action else f"-{self.max_hold}"
        return DatasetInfo(source=self.source, games=games, resolution=self.resolution, num_actions=num_actions,
                           policy=policy, start_level=start if procgen else None,
                           num_levels=num if procgen else None,
                           distribution_mode=self.distribution_mode if procgen else None, seed=self.seed)


class _EpisodeBuffers:
    """Per-environment lists of what happened since each episode began."""

    def __init__(self, obs: np.ndarray, levels: np.ndarray):
        self.frames = [[o] for o in obs]
        self.steps: list[list[tuple[int, float, bool, bool]]] = [[] for _ in obs]
        self.levels = levels.copy()

    def add(self, i: int, action: int, reward: float, terminated: bool, truncated: bool, next_obs: np.ndarray):
        self.steps[i].append((action, reward, terminated, truncated))
        self.frames[i].append(next_obs)

    def pop(self, i: int, game: str, final_frame_observed: bool, new_obs: np.ndarray, new_level: int) -> Episode:
        actions, rewards, terminated, truncated = (np.array(col) for col in zip(*self.steps[i]))
        episode = Episode(frames=np.stack(self.frames[i]), actions=actions.astype(np.int64),
                          rewards=rewards.astype(np.float32), terminated=terminated.astype(bool),
                          truncated=truncated.astype(bool), game=game, level=int(self.levels[i]),
                          final_frame_observed=final_frame_observed)
        self.frames[i], self.steps[i], self.levels[i] = [new_obs], [], new_level
        return episode


def _levels(info: dict, num_envs: int) -> np.ndarray:
    return np.asarray(info.get("level", np.full(num_envs, -1)), dtype=np.int64)


def _collect_game(store: EpisodeStore, config: CollectConfig, game: str, game_index: int, env_game: str,
                  bar: tqdm, agent_policy: AgentPolicy | None) -> None:
    done_steps = store.num_steps(game)
    done_episodes = len(store.episode_paths(game))
    num_envs = 1 if config.per_action else config.num_envs
    start, num = config.levels()
    env = make_frame_source(config.source, env_game, num_envs, config.resolution, start_level=start,
                            num_levels=num, distribution_mode=config.distribution_mode, actions=config.actions)
    # A resumed collection continues with fresh levels and actions, not a replay of the episodes it has.
    seed = config.seed + 1_000_003 * game_index + done_episodes
    num_actions = int(env.single_action_space.n)
    policy: BehaviourPolicy
    if config.per_action:
        counts = np.zeros(num_actions, dtype=np.int64)
        for path in store.episode_paths(game):
            with open_episode(path) as f:  # the actions only, not the frames
                np.add.at(counts, f["actions"][:], 1)
        policy = QuotaRandomPolicy(num_actions, config.per_action, seed,
                                   max_hold=config.max_hold if config.policy == "held" else 1)
        policy.remaining -= counts
        if (policy.remaining < 0).any():
            raise ValueError(f"{store.root}: holds more than {config.per_action} steps of some action of {game}")
    else:
        policy = make_policy(config.policy, num_actions, num_envs, seed, max_hold=config.max_hold,
                             agent=agent_policy)
    renders_final_frame = getattr(env, "renders_final_frame", True)

    def finished() -> bool:
        return policy.done if config.per_action else done_steps >= config.frames_per_game

    obs, info = env.reset(seed=seed)
    buffers = _EpisodeBuffers(obs, _levels(info, num_envs))
    episode_start = np.ones(num_envs, dtype=bool)
    while not finished():
        actions = policy(obs, episode_start)
        next_obs, rewards, terminated, truncated, info = env.step(actions)
        ended = terminated | truncated
        levels = _levels(info, num_envs)
        for i in range(num_envs):
            last = info["final_obs"][i] if ended[i] else next_obs[i]
            buffers.add(i, int(actions[i]), float(rewards[i]), bool(terminated[i]), bool(truncated[i]), last)
            if ended[i]:
                episode = buffers.pop(i, game, renders_final_frame, next_obs[i], levels[i])
                store.write(episode)
                done_steps += episode.num_steps
                bar.update(episode.num_steps)
        obs, episode_start = next_obs, ended
    if config.per_action and buffers.steps[0]:
        # The quota ran out mid-episode: keep the partial episode, cut by the collection (truncated).
        buffers.steps[0][-1] = (*buffers.steps[0][-1][:3], True)
        episode = buffers.pop(0, game, True, obs[0], -1)
        store.write(episode)
        bar.update(episode.num_steps)
    env.close()


def collect(config: CollectConfig, progress: bool = True, agent_policy: AgentPolicy | None = None) -> EpisodeStore:
    """Collect (or continue collecting) `config.games` into `config.out`; returns the dataset. With policy sb3,
    `agent_policy` is the agent of `config.agent` (e.g. `partial(SB3Policy, config.agent)` from `agents`, which sit
    above data)."""
    if config.policy == "sb3" and agent_policy is None:
        raise ValueError(f"policy 'sb3': pass the policy of the agent {config.agent} as agent_policy")
    if config.source == "video":
        raise ValueError("video folders are ingested with ingest_videos(), not collect()")
    games = check_games(config.source, config.games)
    maps = [DOOM_MAPS[g] for g in map(doom_game, config.games) if g in DOOM_MAPS] if config.source == "vizdoom" else []
    if config.per_action and maps:
        raise ValueError(f"few-shot collection gives each action its quota, and the maps {maps} take any combination "
                         f"of their buttons; their few-shot data comes from `adaworld adapt --env {maps[0]} "
                         f"--obs-key screen` (each button alone, and none)")
    num_actions = {}
    for name, env_game in zip(games, config.games):
        probe = make_frame_source(config.source, env_game, 1, config.resolution, actions=config.actions)
        num_actions[name] = int(probe.single_action_space.n)
        probe.close()
    store = EpisodeStore.create(config.out, config.dataset_info(games, num_actions))
    target = (config.per_action * sum(num_actions.values()) if config.per_action
              else config.frames_per_game * len(games))
    with tqdm(total=target, unit="frame", unit_scale=True, disable=not progress, desc="collect",
              initial=sum(store.num_steps(g) for g in games)) as bar:
        for index, (name, env_game) in enumerate(zip(games, config.games)):
            bar.set_postfix(game=name)
            _collect_game(store, config, name, index, env_game, bar, agent_policy)
    return store


def ingest_videos(folder: str | Path, out: str | Path, resolution: int = 64, every: int = 1,
                  progress: bool = True) -> EpisodeStore:
    """Turn every video file under `folder` into an action-free episode (actions -1) of game "video".

    Files already ingested into `out` (by their position in the sorted file list) are skipped."""
    videos = list_videos(folder)
    info = DatasetInfo(source="video", games=["video"], resolution=resolution, policy=f"video-every-{every}")
    store = EpisodeStore.create(out, info)
    have = {read_episode_header(p)["level"] for p in store.episode_paths("video")}
    for index, path in enumerate(tqdm(videos, unit="video", disable=not progress, desc="ingest")):
        if index in have:
            continue
        frames = read_video(path, resolution, every)
        steps = len(frames) - 1
        truncated = np.zeros(steps, dtype=bool)
        truncated[-1] = True  # a video ends because the recording stopped, not because a game ended
        store.write(Episode(frames=frames, actions=np.full(steps, -1), rewards=np.zeros(steps, np.float32),
                            terminated=np.zeros(steps, dtype=bool), truncated=truncated, game="video", level=index))
    return store


def play_episodes(env: gym.Env, policy: Any, steps: int, resolution: int, seed: int = 0,
                  progress: bool = True) -> list[Episode]:
    """Play one Gymnasium environment for `steps` steps with `policy` (its `next()` gives an action in the
    space's own form), frames resized to `resolution`; the last episode is cut (truncated) where the steps run
    out. Episodes are seeded `seed`, `seed + 1`, ... In memory, an episode's actions stay in the space's form
    ((T,) or (T, D)); only the dataset files hold them as one integer each."""
    # Gymnasium envs return an episode's last frame; Procgen's and `DoomEpisodeEnd`'s (`renders_final_frame =
    # False`) repeat the one before, and the world model must not learn that transition.
    renders_final = env.get_wrapper_attr("renders_final_frame") if env.has_wrapper_attr("renders_final_frame") \
        else True
    episodes: list[Episode] = []
    bar = tqdm(total=steps, desc="collect", unit="step", disable=not progress)
    done = 0
    while done < steps:
        obs, _ = env.reset(seed=seed + len(episodes))
        frames, actions, rewards, terminated, truncated = [resize_frame(obs, resolution)], [], [], [], []
        while done < steps:
            action = policy.next()  # a hold may run on into the next episode
            obs, reward, term, trunc, _ = env.step(action)
            frames.append(resize_frame(obs, resolution))
            actions.append(action), rewards.append(float(reward))
            terminated.append(bool(term)), truncated.append(bool(trunc))
            done += 1
            bar.update()
            if term or trunc:
                break
        ended = terminated[-1] or truncated[-1]
        truncated[-1] = truncated[-1] or not ended  # cut by the step budget
        episodes.append(Episode(frames=np.stack(frames), actions=np.stack(actions),
                                rewards=np.asarray(rewards, dtype=np.float32), terminated=np.asarray(terminated),
                                truncated=np.asarray(truncated), game=str(getattr(env.spec, "id", "env")),
                                final_frame_observed=renders_final or not ended))
    bar.close()
    return episodes
