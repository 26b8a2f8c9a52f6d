"""Counterfactual branches for training: from one saved game state, what each move really does.

A plain clip shows one action's outcome; nothing in it says which pixels that action, rather than the game,
changed. Procgen saves and restores its state exactly, so this stream plays the games with a behaviour policy,
and every `stride` steps saves each copy and steps every move of the subset once from the saved state. A
training loss can then compare the outcomes of one state: where they differ is what the action decides.

`real_branches` is the same question asked for evaluation: saved states of test levels and what each move, held
for several steps, did from them (`Branches`, the data of the controllability benchmark).

A branch group is a dict of torch tensors:
    context   (memory, 3, H, W) uint8, the frames up to the saved state, oldest first
    outcomes  (A, 3, H, W) uint8, the frame after each of the A actions of the subset, in subset order
    game      () int64, index into the `games` list
Groups where any branch ended its episode are left out (Procgen shows the next level's first frame there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader

from adaworld_gym.data.clips import LiveStream
from adaworld_gym.data.policies import make_policy
from adaworld_gym.envs.procgen_batch import ProcgenBatch
from adaworld_gym.envs.procgen_games import ACTION_SUBSETS, TEST_LEVELS, split_levels

MOVES = ("LEFT", "DOWN", "UP", "RIGHT")  # the "moves" action subset, in order


class BranchStream(LiveStream):
    """Endless branch groups from live Procgen games, through a shuffle buffer of `shuffle_buffer` groups."""

    def __init__(self, games: list[str], memory: int, *, actions: str = "moves", num_envs: int = 16,
                 policy: str = "held", max_hold: int = 16, split: str = "train", stride: int = 4, seed: int = 0,
                 shuffle_buffer: int = 256):
        if memory < 1:
            raise ValueError(f"a branch group needs at least one context frame, got memory={memory}")
        if stride < 1:
            raise ValueError(f"stride must be at least 1, got {stride}")
        self.games, self.memory, self.actions, self.num_envs = list(games), memory, actions, num_envs
        self.policy, self.max_hold, self.split, self.stride = policy, max_hold, split, stride
        self.seed, self.shuffle_buffer = seed, shuffle_buffer
        split_levels(split)  # validate now, not in a worker

    def _items(self, seed: int):
        start, num = split_levels(self.split)
        batches = [ProcgenBatch(g, self.num_envs, start_level=start, num_levels=num, actions=self.actions,
                                seed=seed + i) for i, g in enumerate(self.games)]
        policies = [make_policy(self.policy, b.num_actions, self.num_envs, seed + i, max_hold=self.max_hold)
                    for i, b in enumerate(batches)]
        n, k = self.num_envs, self.memory
        frames = [np.repeat(b.obs[:, None], k, axis=1) for b in batches]  # ring of the last k frames per copy
        run = [np.ones(n, dtype=np.int64) for _ in batches]  # frames of the current episode seen so far
        starts = [np.ones(n, dtype=bool) for _ in batches]
        steps = 0
        while True:
            steps += 1
            for g, batch in enumerate(batches):
                step = batch.step(policies[g](batch.obs, starts[g]))
                ended = step.terminated | step.truncated
                frames[g] = np.roll(frames[g], -1, axis=1)
                frames[g][:, -1] = step.obs
                run[g] = np.where(ended, 1, run[g] + 1)
                starts[g] = ended
                if steps % self.stride:
                    continue
                saved = batch.get_state()
                outcomes, alive = [], run[g] >= k
                for action in range(batch.num_actions):
                    branch = batch.step(np.full(n, action))
                    alive &= ~(branch.terminated | branch.truncated)
                    outcomes.append(branch.obs)
                    batch.set_state(saved)
                outcomes = np.stack(outcomes, axis=1)  # (n, A, H, W, 3)
                for i in np.flatnonzero(alive):
                    yield {"context": torch.from_numpy(np.ascontiguousarray(frames[g][i].transpose(0, 3, 1, 2))),
                           "outcomes": torch.from_numpy(np.ascontiguousarray(outcomes[i].transpose(0, 3, 1, 2))),
                           "game": torch.tensor(g, dtype=torch.int64)}


def branch_loader(games: list[str], memory: int, actions: str, batch_size: int, num_workers: int, seed: int,
                  policy: str = "held") -> DataLoader:
    """Batches of `batch_size` outcomes: `batch_size // A` branch groups of the A actions of `actions`."""
    if actions not in ACTION_SUBSETS:
        raise ValueError(f"unknown action subset {actions!r}; choose one of {sorted(ACTION_SUBSETS)}")
    moves = len(ACTION_SUBSETS[actions])
    if batch_size % moves:
        raise ValueError(f"a batch of {batch_size} outcomes does not split into groups of the {moves} "
                         f"{actions!r} actions")
    stream = BranchStream(games, memory, actions=actions, policy=policy, seed=seed)
    return DataLoader(stream, batch_size=batch_size // moves, num_workers=num_workers)


@dataclass
class Branches:
    """Real states of one game and what each move, held, did from them."""

    game: str
    context: torch.Tensor  # (N, K, 3, H, W) uint8: the frames up to the saved state, oldest first
    outcomes: torch.Tensor  # (N, 4, hold, 3, H, W) uint8: frame after holding move m for h + 1 steps
    alive: torch.Tensor  # (N, hold) bool: no move's branch had ended its episode by step h + 1
    levels: list[int]


def real_branches(game: str, states: int, memory: int = 6, hold: int = 8, seed: int = 0) -> Branches:
    """`states` saved states of test levels, each after `memory - 1` random moves from a level start, and every
    move held `hold` steps from each (states whose warm-up ended an episode are replaced by fresh ones)."""
    rng = np.random.default_rng(seed)
    kept_context, kept_outcomes, kept_alive, kept_levels = [], [], [], []
    attempt = 0
    while sum(len(c) for c in kept_context) < states:
        if attempt == 20:
            raise RuntimeError(f"{game}: fewer than {states} warm-ups survived {memory - 1} moves in 20 tries")
        batch = ProcgenBatch(game, states, start_level=TEST_LEVELS[0], num_levels=TEST_LEVELS[1], actions="moves",
                             seed=seed * 1000 + attempt)
        attempt += 1
        frames, fine = [batch.obs], np.ones(states, dtype=bool)
        for _ in range(memory - 1):
            step = batch.step(rng.integers(4, size=states))
            fine &= ~(step.terminated | step.truncated)
            frames.append(step.obs)
        levels = batch.levels()
        saved = batch.get_state()
        outcomes, alive = [], np.ones((states, hold), dtype=bool)
        for move in range(len(MOVES)):
            batch.set_state(saved)
            ended, held = np.zeros(states, dtype=bool), []
            for h in range(hold):
                step = batch.step(np.full(states, move))
                ended |= step.terminated | step.truncated
                alive[:, h] &= ~ended
                held.append(step.obs)  # where a branch ended, `alive` keeps it out of the scores
            outcomes.append(np.stack(held, axis=1))
        kept_context.append(np.stack(frames, axis=1)[fine])
        kept_outcomes.append(np.stack(outcomes, axis=1)[fine])
        kept_alive.append(alive[fine])
        kept_levels += levels[fine].tolist()
    chw = lambda x: torch.from_numpy(np.concatenate(x)[:states]).movedim(-1, -3).contiguous()
    return Branches(game, chw(kept_context), chw(kept_outcomes),
                    torch.from_numpy(np.concatenate(kept_alive)[:states]), kept_levels[:states])
