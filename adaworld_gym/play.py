"""`adaworld play`: play with the keyboard in the learned simulator, the real environment, or both side by side with
the same keys (the simulator then starts from the real first frame): a Procgen game, or an environment adapted
with `adaworld adapt --env` whose adapter names its actions (ViZDoom's buttons).

Keys, for Procgen as its own interactive mode: arrow keys move (two at once for diagonals), D A W S Q E are the
special actions. For ViZDoom (`DOOM_KEYS`): the arrows move forward and back and turn (strafe where the scenario
cannot turn), space attacks, A and D strafe, E uses. R restarts the episode, Esc or closing the window quits.
Runs headless too (SDL's dummy video driver, no keys pressed: the agent does nothing), which is how it is tested.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from adaworld_gym.config_cli import check_at_least
from adaworld_gym.envs.procgen_games import PROCGEN_ACTION_NAMES
from adaworld_gym.side_by_side import SIDES, SideBySide, SideBySideConfig, open_side_by_side

PLAY_MODES = ("sim", "real", "both")
SPECIAL_KEYS = ("D", "A", "W", "S", "Q", "E")
# ViZDoom's buttons under the keys: each key presses the first of its buttons the environment has, so the arrows
# turn where it can turn and strafe where it cannot (basic, take cover). Where one button is pressed at a time,
# the first key held wins: attacking and turning before walking, which is held longest.
DOOM_KEYS: dict[str, tuple[str, ...]] = {
    "SPACE": ("ATTACK",), "LEFT": ("TURN_LEFT", "MOVE_LEFT"), "RIGHT": ("TURN_RIGHT", "MOVE_RIGHT"),
    "A": ("MOVE_LEFT",), "D": ("MOVE_RIGHT",), "E": ("USE",), "UP": ("MOVE_FORWARD",), "DOWN": ("MOVE_BACKWARD",)}
KEYS = ("LEFT", "RIGHT", "UP", "DOWN", "SPACE", *SPECIAL_KEYS)  # the keys read, by their pygame names (K_...)


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


def button_keys(action_names: list[str]) -> dict[str, str]:
    """The button each key of `DOOM_KEYS` presses among those named (a Discrete action's buttons are joined by
    "+"); keys none of whose buttons the environment has are left out."""
    buttons = {b for name in action_names for b in name.split("+")}
    return {key: next(b for b in options if b in buttons) for key, options in DOOM_KEYS.items()
            if any(b in buttons for b in options)}


def action_for_buttons(pressed: set[str], keys: dict[str, str], space: gym.Space, action_names: list[str]) -> Any:
    """The action for the pressed keys: MultiBinary presses every button held; Discrete takes the action of the
    first held button alone (ViZDoom's scenarios press one at a time), else the one named NOOP (else the first)."""
    held = [button for key, button in keys.items() if key in pressed]
    if isinstance(space, gym.spaces.MultiBinary):
        return np.array([name in held for name in action_names], dtype=space.dtype)
    name = next((b for b in held if b in action_names), "NOOP")
    return int(space.start) + (action_names.index(name) if name in action_names else 0)


def key_controls(pair: SideBySide) -> tuple[Callable[[set[str]], Any], str]:
    """The action for the pressed keys, and the keys' legend."""
    if pair.combos is not None:
        names = [PROCGEN_ACTION_NAMES[c] for c in pair.combos]
        return (lambda pressed: action_for_keys(pressed, pair.combos),
                f"keys: arrows move, D A W S Q E special actions ({', '.join(names)}); R restarts, Esc quits")
    space, names = pair.action_space, pair.action_names
    if names is None or not isinstance(space, gym.spaces.Discrete | gym.spaces.MultiBinary):
        raise ValueError(f"{pair.name}: keyboard play needs named Discrete or MultiBinary actions; its adapter "
                         f"records no names (ViZDoom's buttons are recorded) for {space}")
    keys = button_keys(names)
    return (lambda pressed: action_for_buttons(pressed, keys, space, names),
            "keys: " + ", ".join(f"{key}={button}" for key, button in keys.items()) + "; R restarts, Esc quits")


@dataclass
class PlaySession:
    """What happened: steps, episodes and returns per environment, and the frames shown (for --record)."""

    steps: int = 0
    episodes: int = 0
    returns: dict[str, list[float]] = field(default_factory=dict)
    frames: list[np.ndarray] = field(default_factory=list)


def _pressed_names(pygame) -> set[str]:
    keys = pygame.key.get_pressed()
    return {name for name in KEYS if keys[getattr(pygame, f"K_{name if len(name) > 1 else name.lower()}")]}


@dataclass
class PlayConfig(SideBySideConfig):
    """Play with the keyboard: arrows move, D A W S Q E special actions (ViZDoom: arrows, space, A D E, printed at
    the start), R restarts, Esc quits."""

    mode: str = field(default="sim", metadata={"flag": "--env"})  # sim (the learned simulator), real, or both
    fps: int = 15  # steps per second
    scale: int = 6  # window pixels per frame pixel
    max_steps: int | None = None  # stop after this many steps
    record: Path | None = None  # also write what was shown to this mp4

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode not in PLAY_MODES:
            raise ValueError(f"unknown play mode {self.mode!r}; choose one of {PLAY_MODES}")
        check_at_least(self, {"fps": 1, "scale": 1, "max_steps": 1})


def play(config: PlayConfig) -> PlaySession:
    """Open a window and play until Esc, the window closes, or `max_steps` steps; prints the keys first. An
    `adapt --env` adapter names its environment itself (no game)."""
    mode, fps, scale, max_steps, record, seed = (config.mode, config.fps, config.scale, config.max_steps,
                                                 config.record, config.seed)
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    pair = open_side_by_side(SIDES if mode == "both" else (mode,), config)
    envs = pair.envs
    session = PlaySession(returns={name: [] for name in envs})
    try:
        choose, legend = key_controls(pair)
        print(legend, flush=True)
        pygame.init()
        obs, totals, over = pair.restart(seed), dict.fromkeys(envs, 0.0), dict.fromkeys(envs, False)
        height, width = next(iter(obs.values())).shape[:2]
        screen = pygame.display.set_mode((width * scale * len(envs), height * scale))
        pygame.display.set_caption(f"adaworld play: {pair.name} ({' | '.join(envs)})")
        clock = pygame.time.Clock()
        while max_steps is None or session.steps < max_steps:
            quit_now, restart_now = False, False
            for event in pygame.event.get():
                quit_now |= event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE)
                restart_now |= event.type == pygame.KEYDOWN and event.key == pygame.K_r
            if quit_now:
                break
            action = choose(_pressed_names(pygame))
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
                obs = pair.restart(seed + session.episodes)
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
        pair.close()
    if record and session.frames:
        from adaworld_gym.video import write_mp4

        write_mp4(np.stack(session.frames), record, fps=fps)
    return session
