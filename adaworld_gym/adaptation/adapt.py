"""`adaworld adapt`: turn the pretrained world model into a simulator of one environment's real action space.

Read top to bottom: load the few-shot transitions, label them with the world model's condition (the latent
action model for AdaWorld), start the action map there (each discrete action's row at the mean latent action
of its transitions; the MLP of a continuous space fitted to the (action, latent) pairs), fit the reward model
(its reward timing picked on a validation part, held-out precision/recall reported), then optionally fine-tune
denoiser and action map together.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

import gymnasium as gym

from adaworld_gym.adaptation.action_map import (ActionMap, action_features, actions_to_tensor, feature_width,
                                               make_action_map)
from adaworld_gym.adaptation.configs import ACTION_MAP_INITS, REWARD_STEPS
from adaworld_gym.adaptation.reward_model import RewardModel, f1_score, precision_recall
from adaworld_gym.adaptation.simulator import AdaptedSimulator, reward_model_of
from adaworld_gym.data.episodes import Episode, EpisodeStore, read_episode
from adaworld_gym.envs.procgen_games import resolve_actions
from adaworld_gym.models.world_model import WorldModel, hint_function


@dataclass
class FewShotData:
    """Every transition of a few-shot dataset of one game, frames channels first."""

    frames: list[torch.Tensor]  # per episode (T+1, 3, H, W) uint8
    actions: torch.Tensor  # over all episodes, in order, as `actions_to_tensor` gives them: (N,) or (N, D)
    rewards: torch.Tensor  # (N,)
    ends: torch.Tensor  # (N,) bool: terminated
    episode: torch.Tensor  # (N,) episode index of each transition
    step: torch.Tensor  # (N,) index of the transition within its episode
    # False for an episode's last transition when Procgen never rendered its next frame. That transition is
    # the one that pays the reward and ends the episode, so the reward model needs it (its stored next frame is
    # the last frame shown, as the real env returns it); the world model must not learn to predict it.
    observed: torch.Tensor  # (N,) bool


def few_shot_from_episodes(episodes: list[Episode], space: gym.Space) -> FewShotData:
    """Every transition of `episodes` (empty ones skipped), actions as `actions_to_tensor` gives them for
    `space`; an episode's last transition is unobserved where its final frame was not rendered."""
    frames, actions, rewards, ends, episode, step, observed = [], [], [], [], [], [], []
    for ep in episodes:
        if ep.num_steps < 1:
            continue
        frames.append(torch.from_numpy(ep.frames).permute(0, 3, 1, 2).contiguous())
        actions.append(actions_to_tensor(space, ep.actions)), rewards.append(ep.rewards), ends.append(ep.terminated)
        episode.append(np.full(ep.num_steps, len(frames) - 1)), step.append(np.arange(ep.num_steps))
        observed.append(np.arange(ep.num_steps) < ep.num_observed_frames - 1)
    if not frames:
        raise ValueError("no transitions in these episodes")
    cat = lambda xs: torch.from_numpy(np.concatenate(xs))
    return FewShotData(frames, torch.cat(actions), cat(rewards).float(), cat(ends).bool(), cat(episode), cat(step),
                       cat(observed).bool())


def load_few_shot(dataset: str | Path, game: str, num_actions: int) -> FewShotData:
    store = EpisodeStore(dataset)
    if game not in store.info.games:
        raise ValueError(f"{dataset}: a dataset of {store.info.games}, not of {game!r}")
    if store.info.num_actions.get(game) != num_actions:
        raise ValueError(f"{dataset}: recorded with {store.info.num_actions.get(game)} actions for {game}, the "
                         f"adapter is for {num_actions}")
    episodes = [read_episode(path) for path in store.episode_paths(game)]
    if not any(ep.num_steps for ep in episodes):
        raise ValueError(f"{dataset}: no transitions of {game}")
    return few_shot_from_episodes(episodes, gym.spaces.Discrete(num_actions))


def transition_pairs(data: FewShotData, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(previous, following) uint8 frames (B, 3, H, W) of the indexed transitions."""
    pairs = torch.stack([data.frames[e][s:s + 2] for e, s in zip(data.episode[index].tolist(),
                                                                   data.step[index].tolist())])
    return pairs[:, 0], pairs[:, 1]


def few_shot_conditions(world: WorldModel, data: FewShotData, index: torch.Tensor) -> torch.Tensor:
    """The world model's conditions (latent actions) of the indexed transitions, (B, condition_dim)."""
    return torch.cat([world.condition(*transition_pairs(data, chunk)) for chunk in index.split(256)])


def limit_per_action(data: FewShotData, per_action: int) -> FewShotData:
    """The same episodes, but the world model learns from only the first `per_action` observed transitions of
    each action (the data-size axis of the adaptation benchmark); memory frames still come from whole episodes."""
    rank = torch.zeros_like(data.actions)
    for a in data.actions.unique():
        picked = torch.nonzero((data.actions == a) & data.observed).flatten()
        rank[picked] = torch.arange(len(picked))
    return replace(data, observed=data.observed & (rank < per_action))


def initial_action_map(world: WorldModel, data: FewShotData, space: gym.Space, init: str = "average",
                       seed: int = 0) -> ActionMap:
    """The action map started from the conditions (latent actions) of the few-shot transitions: mean rows for
    discrete actions, least-squares button contributions for MultiBinary, a fitted MLP for continuous ones;
    `init="random"` leaves it at its random start."""
    if init not in ACTION_MAP_INITS:
        raise ValueError(f"init must be one of {ACTION_MAP_INITS}, got {init!r}")
    torch.manual_seed(seed)
    action_map = make_action_map(space, world.condition.dim).to(world.device)
    # Action-agnostic: its condition is always zero, nothing to start from; random, as the paper's comparison.
    seen = torch.nonzero(data.observed).flatten()
    if init == "average" and world.condition.kind != "none" and len(seen):
        action_map.initialise(data.actions[seen], few_shot_conditions(world, data, seen).to(world.device))
    return action_map


@contextmanager
def _weights_of(module: nn.Module, source: nn.Module):
    """Temporarily give `module` the weights of `source` (the EMA copy), restoring its own afterwards."""
    own = {k: v.clone() for k, v in module.state_dict().items()}
    module.load_state_dict(source.state_dict())
    try:
        yield
    finally:
        module.load_state_dict(own)


def finetune(world: WorldModel, action_map: ActionMap, data: FewShotData, steps: int, batch_size: int,
             lr: float, seed: int = 0, progress: bool = True,
             evaluate: Callable[[int], None] | None = None, evaluate_at: tuple[int, ...] = (),
             ema_decay: float = 0.98) -> list[float]:
    """Train denoiser (at `lr`) and action map (at 10x) with the pretraining loss on the few-shot clips; both end
    with the exponential moving average of their weights. `evaluate(step)` is called (eval mode, EMA weights)
    before the first step and after each step in `evaluate_at`."""
    k, device = world.memory, world.device
    with torch.no_grad():  # the autoencoder stays frozen: encode every frame once
        latents = [world.autoencoder.encode(f.to(device)) for f in data.frames]
    denoiser = world.denoiser
    optimizer = torch.optim.AdamW([{"params": denoiser.parameters(), "lr": lr},
                                   {"params": action_map.parameters(), "lr": 10 * lr}], weight_decay=0.0)
    # A short warm-up: Adam's first steps move every weight by about the learning rate, whatever its gradient,
    # which knocks a pretrained model off its minimum before the few-shot gradients mean anything.
    warmup = max(1, min(50, steps // 10))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: min(1.0, (i + 1) / warmup))
    # EMA weights: measured on ninja (100 steps, lr 1e-4), the raw fine-tuned weights lost 3.2 dB of 10-step
    # open-loop PSNR, their EMA at 0.98 lost 0.4 dB (the pretrained models are EMA exports too).
    trained = nn.ModuleDict({"denoiser": denoiser, "action_map": action_map})
    ema = AveragedModel(trained, multi_avg_fn=get_ema_multi_avg_fn(ema_decay), use_buffers=True)
    generator = torch.Generator().manual_seed(seed)
    usable = torch.nonzero(data.observed).flatten()
    if steps and not len(usable):
        raise ValueError("no few-shot transition shows its next frame (every episode ended at its first step): "
                         "nothing to fine-tune on; collect more steps or use --finetune-steps 0")
    if evaluate is not None and 0 in evaluate_at:
        evaluate(0)
    losses = []
    for step in tqdm(range(1, steps + 1), desc="adapt", disable=not progress):
        denoiser.train()
        index = usable[torch.randint(0, len(usable), (batch_size,), generator=generator)]
        memory = torch.zeros(batch_size, k, *latents[0].shape[1:], device=device)
        targets, lengths = [], []
        for row, (e, s) in enumerate(zip(data.episode[index].tolist(), data.step[index].tolist())):
            seen = latents[e][max(0, s + 1 - k):s + 1]  # memory ends at the transition's first frame
            memory[row, k - len(seen):] = seen
            targets.append(latents[e][s + 1]), lengths.append(len(seen))
        conditions = action_map(data.actions[index].to(device))
        hint = hint_function(world.autoencoder, world.condition, conditions) \
            if world.denoiser.config.hint_resolution else None
        loss = denoiser(torch.stack(targets), memory, torch.tensor(lengths, device=device), conditions, hint=hint)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(denoiser.parameters()) + list(action_map.parameters()), 1.0)
        optimizer.step()
        schedule.step()
        ema.update_parameters(trained)
        losses.append(float(loss.detach()))
        if evaluate is not None and step in evaluate_at:
            denoiser.eval()
            with _weights_of(trained, ema.module):
                evaluate(step)
    trained.load_state_dict(ema.module.state_dict())
    denoiser.eval()
    return losses


def delayed_rewards(data: FewShotData) -> torch.Tensor:
    """Each transition's reward target when rewards are paid one step late: the previous step's reward, plus
    its own on an episode's last transition (so nothing is lost at the end)."""
    previous = torch.cat([torch.zeros(1), data.rewards[:-1]])
    previous[data.step == 0] = 0
    last = torch.cat([data.step[1:] == 0, torch.ones(1, dtype=torch.bool)])
    return previous + torch.where(last, data.rewards, torch.zeros_like(data.rewards))


def fit_reward_model(data: FewShotData, space: gym.Space, steps: int, seed: int,
                     device: torch.device) -> tuple[RewardModel, dict[str, Any]]:
    """Fit the reward/episode-end model on 70% of the transitions, pick its reward timing on 10%, report
    precision/recall on the other 20%.

    Timing: in some games the frames show a reward only a step after the one that paid it (a shot enemy of
    starpilot explodes in the next frame: on 100k random steps the held-out F1 of a reward predicted from the
    paying step's frames was 0.06, from the next step's 0.40). So a model is fitted for each timing, paying
    on the step or one step late, and the one whose rewards match better on the 10% is kept (on time if that
    part holds no reward)."""
    order = torch.randperm(len(data.actions), generator=torch.Generator().manual_seed(seed))
    fit_idx, pick_idx, held_idx = order.tensor_split([int(0.7 * len(order)), int(0.8 * len(order))])
    features = action_features(space, data.actions)
    fit_pairs, pick_pairs = transition_pairs(data, fit_idx), transition_pairs(data, pick_idx)  # shared by both fits
    fitted = {}
    for delay, rewards in enumerate((data.rewards, delayed_rewards(data))):
        reward_model = RewardModel(feature_width(space)).to(device)
        reward_model.fit(*fit_pairs, features[fit_idx], rewards[fit_idx], data.ends[fit_idx], steps=steps, seed=seed)
        picked = reward_model.predict(*pick_pairs, features[pick_idx])
        fitted[delay] = (reward_model, rewards, f1_score(precision_recall(picked.reward > 0, rewards[pick_idx] > 0)))
    delay = 1 if fitted[1][2] > fitted[0][2] else 0
    reward_model, rewards, _ = fitted[delay]
    held = reward_model.predict(*transition_pairs(data, held_idx), features[held_idx])
    return reward_model, {"reward_delay": delay,
                          "reward": precision_recall(held.reward > 0, rewards[held_idx] > 0),
                          "episode_end": precision_recall(held.terminated, data.ends[held_idx])}


def adapt_to_data(world: WorldModel, data: FewShotData, space: gym.Space, game: str, finetune_steps: int = 800,
                  batch_size: int = 32, lr: float = 1e-4, init: str = "average", reward_steps: int = REWARD_STEPS,
                  seed: int = 0, progress: bool = True, combos: tuple[int, ...] | None = None,
                  start_frames: torch.Tensor | None = None, metadata: dict[str, Any] | None = None,
                  reward_model_from: str | Path | None = None) -> AdaptedSimulator:
    """The adaptation itself, for any supported action space; `world` is modified in place when fine-tuning.
    `reward_model_from`: an adapter of the same game and actions whose reward model is kept instead of fitted."""
    action_map = initial_action_map(world, data, space, init, seed)
    if reward_model_from is not None:
        reward_model, held_out = reward_model_of(reward_model_from, game, space, combos)
        reward_model = reward_model.to(world.device).eval()
        metadata = {**(metadata or {}), "reward_model_from": str(reward_model_from)}
    else:
        reward_model, held_out = fit_reward_model(data, space, reward_steps, seed, world.device)
    metadata = {**(metadata or {}), "transitions": len(data.actions), "init": init,
                "finetune_steps": finetune_steps, "reward_model_held_out": held_out}
    if finetune_steps:
        losses = finetune(world, action_map, data, finetune_steps, batch_size, lr, seed, progress)
        metadata["finetune_loss_first_last"] = [float(np.mean(losses[:20])), float(np.mean(losses[-20:]))]
    return AdaptedSimulator(world, game, space, action_map.eval(), reward_model, metadata, combos, start_frames)


def adapt(world: WorldModel, dataset: str | Path, game: str, actions: str | list[int] = "full",
          finetune_steps: int = 800, batch_size: int = 32, lr: float = 1e-4, init: str = "average",
          reward_steps: int = REWARD_STEPS, seed: int = 0, progress: bool = True,
          reward_model_from: str | Path | None = None) -> AdaptedSimulator:
    """Adapt `world` to a Procgen game's action subset from a few-shot dataset (`adaworld collect --per-action`)."""
    combos = resolve_actions(actions)
    data = load_few_shot(dataset, game, len(combos))
    return adapt_to_data(world, data, gym.spaces.Discrete(len(combos)), game, finetune_steps, batch_size, lr, init,
                         reward_steps, seed, progress, combos=combos, metadata={"dataset": str(dataset)},
                         reward_model_from=reward_model_from)
