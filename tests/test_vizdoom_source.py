"""ViZDoom (the doom extra) as a video source and as an adaptation target: scenarios and Freedoom maps collected in
the Procgen episode format and read by the same clip loader; scenarios by id or name adapted without the black
frame after an episode, then played and compared side by side. The real games only where vizdoom is installed;
the wrappers, the keys, the names and the missing-extra error without it."""

import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

from typer.testing import CliRunner

import adaworld_gym
from adaworld_gym.adaptation.env_adapt import adapt_env, collect_few_shot, image_observations, make_env
from adaworld_gym.cli import app, main
from adaworld_gym.data import ClipDataset, CollectConfig, collect, read_episode
from adaworld_gym.data import sources
from adaworld_gym.data.sources import DoomEpisodeEnd, DoomFrames, MissingExtraError
from adaworld_gym.models.world_model import WorldModel
from adaworld_gym.play import action_for_buttons, button_keys, key_controls
from adaworld_gym.side_by_side import SideBySide

NEEDS_VIZDOOM = "the doom extra is not installed (pip install -e .[doom])"


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
    with pytest.raises(ValueError, match="--env VizdoomFreedoom2MAP07-S3-v0 --obs-key"):
        collect(CollectConfig(out=tmp_path / "b", source="vizdoom", games=["freedoom2_map07"], per_action=5),
                progress=False)
    monkeypatch.setitem(sys.modules, "vizdoom", None)  # as if the extra were not installed
    monkeypatch.setitem(sys.modules, "vizdoom.gymnasium_wrapper", None)
    with pytest.raises(MissingExtraError, match="install the doom extra: pip install -e \\.\\[doom\\]"):
        collect(CollectConfig(out=tmp_path / "c", source="vizdoom", games=["basic"]), progress=False)
    for env_id in ("VizdoomBasic-v1", "basic"):  # adapt --env: an id or a scenario's name
        with pytest.raises(MissingExtraError, match="install the doom extra: pip install -e \\.\\[doom\\]"):
            make_env(env_id, obs_key="screen")
    monkeypatch.setattr(sys, "argv", ["adaworld", "collect", "--source", "vizdoom", "--games", "basic", "--out",
                                      str(tmp_path / "d")])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2 and "pip install -e .[doom]" in capsys.readouterr().err


def test_scenario_and_map_episodes_load_with_procgen_clips(tmp_path, monkeypatch):
    pytest.importorskip("vizdoom", reason=NEEDS_VIZDOOM)
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


def test_few_shot_collection_leaves_out_the_frame_after_a_doom_episode():
    """ViZDoom's screen is black once an episode is over: `adapt --env` repeats the last real frame and leaves
    that transition out, through the wrapper the collect source uses."""
    env = image_observations(DoomEpisodeEnd(ToyDoom(die=2)), "toy", "screen")
    data, starts = collect_few_shot(env, samples_per_action=2, resolution=32, progress=False)
    assert len(data.frames) == 4 and starts.shape == (4, 32, 32, 3)  # 8 steps: four episodes that die at step 2
    for frames in data.frames:
        assert [int(f[0, 0, 0]) for f in frames] == [10, 11, 11]  # not the black frame: the last one again
    assert data.observed.tolist() == [True, False] * 4 and data.ends.tolist() == [False, True] * 4


def test_keys_press_the_buttons_the_environment_has():
    turns = ["NOOP", "MOVE_RIGHT", "MOVE_LEFT", "MOVE_FORWARD", "TURN_RIGHT", "TURN_LEFT"]  # my_way_home's order
    keys = button_keys(turns)
    assert keys == {"LEFT": "TURN_LEFT", "RIGHT": "TURN_RIGHT", "A": "MOVE_LEFT", "D": "MOVE_RIGHT",
                    "UP": "MOVE_FORWARD"}
    space = gym.spaces.Discrete(6)
    assert action_for_buttons({"LEFT"}, keys, space, turns) == 5 and action_for_buttons(set(), keys, space, turns) == 0
    assert action_for_buttons({"UP", "RIGHT"}, keys, space, turns) == 4  # one button at a time: turning first
    strafes = ["NOOP", "ATTACK", "MOVE_RIGHT", "MOVE_LEFT"]  # basic: no turning, so the arrows strafe
    assert button_keys(strafes)["LEFT"] == "MOVE_LEFT" and button_keys(strafes)["SPACE"] == "ATTACK"
    buttons = ["ATTACK", "USE", "MOVE_FORWARD", "TURN_LEFT"]  # a map's MultiBinary: every held button at once
    pressed = action_for_buttons({"SPACE", "UP", "E"}, button_keys(buttons), gym.spaces.MultiBinary(4), buttons)
    assert pressed.tolist() == [1, 1, 1, 0]
    with pytest.raises(ValueError, match="toy: keyboard play needs named Discrete or MultiBinary actions"):
        key_controls(SideBySide("toy", {"real": DoomEpisodeEnd(ToyDoom())}))


@pytest.fixture(scope="module")
def basic_adapter(world_folder, tmp_path_factory):
    """VizdoomBasic-v1 (named "basic") adapted on a tiny world model, its episodes cut at 10 steps."""
    pytest.importorskip("vizdoom", reason=NEEDS_VIZDOOM)
    simulator = adapt_env(WorldModel.from_pretrained(world_folder), "basic", {"episode_timeout": 10},
                          samples_per_action=3, finetune_steps=1, batch_size=4, reward_steps=2, progress=False,
                          obs_key="screen")
    return simulator.save_pretrained(tmp_path_factory.mktemp("doom") / "adapter",
                                     {"world_model_folder": str(world_folder)}, finetuned=True)


def test_scenario_ids_and_names_make_the_env_and_collect_no_black_frame():
    pytest.importorskip("vizdoom", reason=NEEDS_VIZDOOM)
    env = make_env("VizdoomBasic-v1", {"episode_timeout": 10}, obs_key="screen")
    assert env.observation_space == gym.spaces.Box(0, 255, (240, 320, 3), np.uint8)
    data, _ = collect_few_shot(env, samples_per_action=5, progress=False)  # 20 steps: two 10-step episodes
    assert [len(f) for f in data.frames] == [11, 11]
    for frames in data.frames:
        assert frames[-1].float().mean() > 10 and torch.equal(frames[-1], frames[-2])
    assert data.observed.tolist() == ([True] * 9 + [False]) * 2 and not data.ends.any()  # timeouts: truncated
    assert make_env("my_way_home", obs_key="screen").spec.id == "VizdoomMyWayHome-v1"


def test_adapted_scenario_keeps_its_actions_and_plays_and_compares(basic_adapter, tmp_path, monkeypatch):
    from adaworld_gym.compare import CompareConfig, compare

    env = adaworld_gym.make_learned(basic_adapter, device="cpu", denoising_steps=1)
    assert env.unwrapped.env_id == "VizdoomBasic-v1"
    assert env.action_space == gym.make("VizdoomBasic-v1").action_space == gym.spaces.Discrete(4)
    assert env.unwrapped.simulator.metadata["action_names"] == ["NOOP", "ATTACK", "MOVE_RIGHT", "MOVE_LEFT"]
    report = compare(CompareConfig(adapter=basic_adapter, steps=12, denoising_steps=1, device="cpu"))
    assert report["settings"]["game"] == "VizdoomBasic-v1" and report["settings"]["steps_run"] == 10
    assert report["frames_real"].shape == report["frames_sim"].shape == (11, 64, 64, 3)
    assert report["frames_real"][-1].mean() > 10  # the real scenario's last frame is not the black one
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    result = CliRunner().invoke(app, ["play", "--adapter", str(basic_adapter), "--env", "both", "--max-steps", "3",
                                      "--fps", "100", "--device", "cpu", "--record", str(tmp_path / "play.mp4")])
    assert result.exit_code == 0, result.output
    assert "keys: SPACE=ATTACK, LEFT=MOVE_LEFT, RIGHT=MOVE_RIGHT, A=MOVE_LEFT, D=MOVE_RIGHT;" in result.output
    assert "3 steps" in result.output and (tmp_path / "play.mp4").stat().st_size > 0
    result = CliRunner().invoke(app, ["compare", "--adapter", str(basic_adapter), "--game", "maze"])
    assert "adapted with `adapt --env` to VizdoomBasic-v1, which it names; give no game" in str(result.exception)
