"""`adaworld play`: play a Procgen game with the keyboard in the learned simulator, the real game, or both side by
side with the same keys (the simulator then starts from the real level's first frame).

Keys, as Procgen's own interactive mode: arrow keys move (two at once for diagonals), D A W S Q E are the
special actions, R restarts the episode, Esc or closing the window quits. Runs headless too (SDL's dummy video
driver, no keys pressed: the agent does NOOP), which is how it is tested.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from adaworld_gym.envs.procgen_games import PROCGEN_ACTION_NAMES, resolve_actions
from adaworld_gym.envs.procgen_real import ProcgenRealEnv
from adaworld_gym.envs.world_model_env import AdaWorldProcgenEnv

PLAY_MODES = ("sim", "real", "both")
SPECIAL_KEYS = ("D", "A", "W", "S", "Q", "E")


def action_for_keys(pressed: set[str], combos: tuple[int, ...]) -> int:
    """The index into `combos` for the pressed keys ("LEFT", "UP", ..., "D", ...); NOOP (or the first action of a
    subset without one) when no combination of them is in the subset."""
    special = [k for k in SPECIAL_KEYS if k in pressed]
    if special:
        name = special[0]
    else:
        horizontal = [k for k in ("LEFT", "RIGHT") if k in pressed]
        vertical = [k for k in ("DOWN", "UP") if k in pressed]
        parts = horizontal[:1] + vertical[:1]
        name = "+".join(parts) if parts else "NOOP"
    names = [PROCGEN_ACTION_NAMES[c] for c in combos]
    if name in names:
        return names.index(name)
    return names.index("NOOP") if "NOOP" in names else 0


@dataclass
class PlaySession:
    """What happened: steps, episodes and returns per environment, and the frames shown (for --record)."""

    steps: int = 0
    episodes: int = 0
    returns: dict[str, list[float]] = field(default_factory=dict)
    frames: list[np.ndarray] = field(default_factory=list)


def _pressed_names(pygame) -> set[str]:
    keys = pygame.key.get_pressed()
    names = {"LEFT": pygame.K_LEFT, "RIGHT": pygame.K_RIGHT, "UP": pygame.K_UP, "DOWN": pygame.K_DOWN}
    names.update({k: getattr(pygame, f"K_{k.lower()}") for k in SPECIAL_KEYS})
    return {name for name, key in names.items() if keys[key]}


def play(game: str, mode: str = "sim", actions: str = "full", level: int = 0, fps: int = 15, scale: int = 6,
         max_steps: int | None = None, record: str | Path | None = None, seed: int = 0, denoising_steps: int = 3,
         adapter: str | Path | None = None, world_model: str | Path | None = None,
         device: str = "auto") -> PlaySession:
    """Open a window and play until Esc, the window closes, or `max_steps` steps."""
    if mode not in PLAY_MODES:
        raise ValueError(f"unknown play mode {mode!r}; choose one of {PLAY_MODES}")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    combos = resolve_actions(actions)
    envs: dict[str, Any] = {}
    if mode in ("real", "both"):
        envs["real"] = ProcgenRealEnv(game, start_level=level, num_levels=1, actions=actions)
    if mode in ("sim", "both"):
        envs["sim"] = AdaWorldProcgenEnv(game, actions=actions, adapter=adapter, world_model=world_model,
                                         denoising_steps=denoising_steps, device=device)
    session = PlaySession(returns={name: [] for name in envs})

    def restart(episode_seed: int) -> dict[str, np.ndarray]:
        obs = {}
        if "real" in envs:
            obs["real"] = envs["real"].reset(seed=episode_seed)[0]
        if "sim" in envs:
            # Side by side, the simulator starts from the real frame; alone, from one of its level starts.
            options = {"frames": obs["real"][None]} if "real" in obs else None
            obs["sim"] = envs["sim"].reset(seed=episode_seed, options=options)[0]
        return obs

    pygame.init()
    size = 64 * scale
    screen = pygame.display.set_mode((size * len(envs), size))
    pygame.display.set_caption(f"adaworld play: {game} ({' | '.join(envs)})")
    clock = pygame.time.Clock()
    obs, totals, over = restart(seed), dict.fromkeys(envs, 0.0), dict.fromkeys(envs, False)
    try:
        while max_steps is None or session.steps < max_steps:
            quit_now, restart_now = False, False
            for event in pygame.event.get():
                quit_now |= event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE)
                restart_now |= event.type == pygame.KEYDOWN and event.key == pygame.K_r
            if quit_now:
                break
            action = action_for_keys(_pressed_names(pygame), combos)
            for name, env in envs.items():
                if not over[name]:  # an environment that ended waits (its last frame shown) for the other
                    obs[name], reward, terminated, truncated, _ = env.step(action)
                    totals[name] += float(reward)
                    over[name] = terminated or truncated
            session.steps += 1
            if restart_now or all(over.values()):
                for name in envs:
                    session.returns[name].append(totals[name])
                session.episodes += 1
                obs = restart(seed + session.episodes)
                totals, over = dict.fromkeys(envs, 0.0), dict.fromkeys(envs, False)
            shown = np.concatenate([obs[name] for name in envs], axis=1)
            if record:
                session.frames.append(shown)
            big = shown.repeat(scale, axis=0).repeat(scale, axis=1)
            screen.blit(pygame.surfarray.make_surface(big.transpose(1, 0, 2)), (0, 0))
            pygame.display.flip()
            clock.tick(fps)
    finally:
        pygame.quit()
        for env in envs.values():
            env.close()
    if record and session.frames:
        from adaworld_gym.video import write_mp4

        write_mp4(np.stack(session.frames), record, fps=fps)
    return session
