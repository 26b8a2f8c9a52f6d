"""ViZDoom as a video source (the doom extra): scenarios and Freedoom maps collected in the Procgen episode format
and read by the same clip loader. The real games only where vizdoom is installed; the frame wrapper, the names
and the missing-extra error without it."""

import sys

import gymnasium as gym
import numpy as np
import pytest

from adaworld_gym.cli import main
from adaworld_gym.data import ClipDataset, CollectConfig, collect, read_episode
from adaworld_gym.data import sources
from adaworld_gym.data.sources import DoomFrames, MissingExtraError


class ToyDoom(gym.Env):
    """ViZDoom's shape: Dict observations with a 48x64 `screen`, MultiBinary(3) buttons, zeros once over; dies at
    step `die`, times out at step 4 (reported as both terminated and truncated, as ViZDoom does)."""

    observation_space = gym.spaces.Dict({"screen": gym.spaces.Box(0, 255, (48, 64, 3), np.uint8),
                                         "gamevariables": gym.spaces.Box(-1, 1, (1,), np.float32)})
    action_space = gym.spaces.MultiBinary(3)

    def __init__(self, die: int = 99):
        self.die, self.pressed = die, []

    def _obs(self, value: int):
        return {"screen": np.full((48, 64, 3), value, np.uint8), "gamevariables": np.zeros(1, np.float32)}

    def reset(self, *, seed=None, options=None):
        self.t = 0
        return self._obs(10), {}

    def step(self, action):
        self.t += 1
        self.pressed.append(action.tolist())
        over = self.t in (self.die, 4)
        return self._obs(0 if over else 10 + self.t), 0.0, over, self.t == 4, {}


def test_doom_frames_takes_buttons_as_bits_and_keeps_the_last_screen():
    env = DoomFrames(ToyDoom(), 32)
    assert env.action_space == gym.spaces.Discrete(8) and env.observation_space.shape == (32, 32, 3)
    assert env.reset()[0].shape == (32, 32, 3)
    steps = [env.step(a) for a in (5, 2, 0, 7)]
    assert env.unwrapped.pressed == [[1, 0, 1], [0, 1, 0], [0, 0, 0], [1, 1, 1]]  # bit i presses button i
    assert [int(s[0][0, 0, 0]) for s in steps] == [11, 12, 13, 13]  # no screen after the end: the last one stays
    assert (steps[-1][2], steps[-1][3]) == (False, True)  # a timeout is truncated only
    env = DoomFrames(ToyDoom(die=2), 32)
    env.reset()
    env.step(1)
    assert env.step(1)[2:4] == (True, False)  # died


def test_doom_names_and_a_missing_extra_are_clear_errors(tmp_path, monkeypatch, capsys):
    with pytest.raises(ValueError, match="unknown ViZDoom game 'basik'; scenarios: basic, deadly_corridor"):
        collect(CollectConfig(out=tmp_path / "a", source="vizdoom", games=["basik"]), progress=False)
    with pytest.raises(ValueError, match="--env vizdoom.gymnasium_wrapper:VizdoomFreedoom2MAP07-S3-v0 --obs-key"):
        collect(CollectConfig(out=tmp_path / "b", source="vizdoom", games=["freedoom2_map07"], per_action=5),
                progress=False)
    monkeypatch.setitem(sys.modules, "vizdoom", None)  # as if the extra were not installed
    monkeypatch.setitem(sys.modules, "vizdoom.gymnasium_wrapper", None)
    with pytest.raises(MissingExtraError, match="install the doom extra: pip install -e \\.\\[doom\\]"):
        collect(CollectConfig(out=tmp_path / "c", source="vizdoom", games=["basic"]), progress=False)
    monkeypatch.setattr(sys, "argv", ["adaworld", "collect", "--source", "vizdoom", "--games", "basic", "--out",
                                      str(tmp_path / "d")])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2 and "pip install -e .[doom]" in capsys.readouterr().err


def test_scenario_and_map_episodes_load_with_procgen_clips(tmp_path, monkeypatch):
    pytest.importorskip("vizdoom", reason="the doom extra is not installed (pip install -e .[doom])")
    monkeypatch.setattr(sources, "DOOM_MAP_STEPS", 40)  # a map episode of 40 steps, not a minute
    games = ["predict_position", "freedoom1_e1m1"]
    store = collect(CollectConfig(out=tmp_path / "doom", source="vizdoom", games=games, frames_per_game=40,
                                  num_envs=2, max_hold=8, seed=3), progress=False)
    assert store.info.source == "vizdoom"
    assert store.info.num_actions == {"doom/predict_position": 4, "doom/freedoom1_e1m1": 2 ** 19}
    for game, buttons in (("doom/predict_position", None), ("doom/freedoom1_e1m1", 19)):
        episodes = [read_episode(p) for p in store.episode_paths(game)]
        assert episodes and store.num_steps(game) >= 40
        for ep in episodes:
            assert ep.frames.dtype == np.uint8 and ep.frames.shape == (ep.num_steps + 1, 64, 64, 3)
            assert (ep.terminated | ep.truncated)[-1] and not ep.final_frame_observed
            np.testing.assert_array_equal(ep.frames[-1], ep.frames[-2])
            assert len({f.tobytes() for f in ep.frames}) > 1
        actions = np.concatenate([ep.actions for ep in episodes])
        assert actions.min() >= 0 and actions.max() < store.info.num_actions[game]
        assert len(actions) / (1 + np.count_nonzero(np.diff(actions))) > 2  # held 1..8 steps: runs of ~4.5
        if buttons:  # random button combinations: every button pressed at some point, none out of range
            assert np.bitwise_or.reduce(actions) == 2 ** buttons - 1
            assert all(ep.num_steps == 40 and ep.truncated[-1] and not ep.terminated[-1] for ep in episodes)
    procgen = collect(CollectConfig(out=tmp_path / "procgen", games=["maze"], per_action=4, actions="moves"),
                      progress=False)
    clips = ClipDataset([procgen.root, store.root], clip_len=4)
    assert clips.games == ["doom/freedoom1_e1m1", "doom/predict_position", "maze"]
    assert {int(clips[i]["game"]) for i in range(len(clips))} == {0, 1, 2}
    clip = clips[len(clips) // 2]
    assert clip["frames"].shape == (4, 3, 64, 64) and clip["actions"].shape == (3,)
