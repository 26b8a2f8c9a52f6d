"""Adapting to any Gymnasium pixel environment: toy Box, MultiDiscrete, MultiBinary and Dict-observation
environments become learned simulators with the original action space, and unsupported environments get a clear
error."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import adaworld_gym
from adaworld_gym.adaptation.action_map import MultiBinaryActionMap
from adaworld_gym.adaptation.env_adapt import adapt_env
from adaworld_gym.cli import app
from adaworld_gym.data.policies import QuotaRandomPolicy, few_shot_steps
from adaworld_gym.models.checkpoint import CheckpointError
from adaworld_gym.models.world_model import WorldModel


class MovingSquare(gym.Env):
    """A square on a 48x40 frame, moved by the action; reward at the right edge, which ends the episode."""

    metadata = {"render_modes": []}

    def __init__(self, action_space: gym.Space):
        self.action_space = action_space
        self.observation_space = gym.spaces.Box(0, 255, (48, 40, 3), dtype=np.uint8)
        self.position = np.zeros(2)

    def _frame(self) -> np.ndarray:
        frame = np.zeros((48, 40, 3), dtype=np.uint8)
        y, x = self.position.astype(int)
        frame[y:y + 8, x:x + 8] = (255, 200, 0)
        return frame

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = self.np_random.uniform(0, 30, size=2)
        return self._frame(), {}

    def step(self, action):
        if isinstance(self.action_space, gym.spaces.Box):
            move = np.asarray(action, dtype=float) * 3
        elif isinstance(self.action_space, gym.spaces.MultiBinary):  # buttons up, down, left, right
            up, down, left, right = np.asarray(action, dtype=float)
            move = np.array([3 * (down - up), 6 * (right - left)])
        else:
            move = (np.asarray(action) - 1) * 3 if action.shape == (2,) else np.zeros(2)
            move = np.array([move[0], 2 * move[1]])
        self.position = np.clip(self.position + move, 0, [40, 32])
        at_edge = bool(self.position[1] >= 32)
        return self._frame(), float(at_edge), at_edge, False, {}


gym.register("ToySquareBox-v0", entry_point=lambda: MovingSquare(gym.spaces.Box(-1, 1, (2,), dtype=np.float32)),
             max_episode_steps=40)
gym.register("ToySquareMulti-v0", entry_point=lambda: MovingSquare(gym.spaces.MultiDiscrete([3, 2])),
             max_episode_steps=40)
gym.register("ToySquareButtons-v0", entry_point=lambda: MovingSquare(gym.spaces.MultiBinary(4)),
             max_episode_steps=40)
gym.register("ToyDictActions-v0", entry_point=lambda: MovingSquare(
    gym.spaces.Dict({"move": gym.spaces.Discrete(2)})))
gym.register("ToyButtonGrid-v0", entry_point=lambda: MovingSquare(gym.spaces.MultiBinary([2, 2])))


class ScreenAndMore(MovingSquare):
    """MovingSquare observed as a Dict, as ViZDoom's: the RGB 'screen', a small RGB 'automap', a grey 'depth'
    and a 'health' number."""

    def __init__(self):
        super().__init__(gym.spaces.MultiDiscrete([3, 2]))
        self.observation_space = gym.spaces.Dict({
            "screen": gym.spaces.Box(0, 255, (48, 40, 3), dtype=np.uint8),
            "automap": gym.spaces.Box(0, 255, (12, 10, 3), dtype=np.uint8),
            "depth": gym.spaces.Box(0, 255, (48, 40), dtype=np.uint8),
            "health": gym.spaces.Box(0, 1, (1,), dtype=np.float32)})

    def _observe(self, frame: np.ndarray) -> dict[str, np.ndarray]:
        return {"screen": frame, "automap": frame[::4, ::4].copy(), "depth": frame[..., 0].copy(),
                "health": np.ones(1, dtype=np.float32)}

    def reset(self, *, seed=None, options=None):
        frame, info = super().reset(seed=seed)
        return self._observe(frame), info

    def step(self, action):
        frame, *rest = super().step(action)
        return self._observe(frame), *rest


gym.register("ToyScreenDict-v0", entry_point=ScreenAndMore, max_episode_steps=40)


@pytest.mark.parametrize("env_id, bad_action", [("ToySquareBox-v0", np.full(2, 5.0, dtype=np.float32)),
                                                 ("ToySquareMulti-v0", np.array([7, 0])),
                                                 ("ToySquareButtons-v0", np.array([0, 2, 0, 0], dtype=np.int8))])
def test_adapted_env_keeps_the_action_space_and_passes_checkers(env_id, bad_action, world_folder, tmp_path):
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    original = gym.make(env_id)
    world = WorldModel.from_pretrained(world_folder)
    simulator = adapt_env(world, env_id, samples_per_action=4, finetune_steps=2, batch_size=4, reward_steps=5,
                          progress=False)
    assert simulator.metadata["transitions"] == few_shot_steps(original.action_space, 4)
    simulator.save_pretrained(tmp_path / "adapter", {"world_model_folder": str(world_folder)}, finetuned=True)

    env = adaworld_gym.make_learned(tmp_path / "adapter", device="cpu", denoising_steps=1)
    assert env.action_space == original.action_space and env.observation_space.shape == (64, 64, 3)
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped)
    obs, _ = env.reset(seed=0)
    obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
    assert obs.shape == (64, 64, 3) and isinstance(reward, float)

    full_size = gym.make("AdaWorld-v0", checkpoint=tmp_path / "adapter", device="cpu", original_size=True)
    assert full_size.observation_space == original.observation_space
    assert full_size.reset(seed=0)[0].shape == (48, 40, 3)
    start = original.reset(seed=3)[0]
    assert full_size.reset(options={"frames": start[None]})[0].shape == (48, 40, 3)  # any size in, resized
    with pytest.raises(ValueError, match="is not in"):
        env.step(bad_action)


def test_dict_observations_adapt_on_their_image_entry(world_folder, tmp_path):
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    result = CliRunner().invoke(app, ["adapt", "--env", "ToyScreenDict-v0", "--obs-key", "screen", "--out",
                                      str(tmp_path / "adapter"), "--world-model", str(world_folder),
                                      "--samples-per-action", "2", "--finetune-steps", "2", "--batch-size", "4",
                                      "--reward-steps", "5", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    original = gym.make("ToyScreenDict-v0")
    env = adaworld_gym.make_learned(tmp_path / "adapter", device="cpu", denoising_steps=1)
    # The learned env observes the image alone: the world model imagines nothing else.
    assert env.unwrapped.obs_key == "screen"
    assert env.observation_space == gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    assert env.action_space == original.action_space
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped)
    full_size = adaworld_gym.make_learned(tmp_path / "adapter", obs_key="screen", device="cpu", original_size=True)
    assert full_size.observation_space == original.observation_space["screen"]
    assert full_size.reset(seed=0)[0].shape == (48, 40, 3)
    with pytest.raises(CheckpointError,
                       match="adapted on the 'screen' entry of ToyScreenDict-v0, not obs_key 'automap'"):
        adaworld_gym.make_learned(tmp_path / "adapter", obs_key="automap", device="cpu")


def test_unsupported_environments_get_a_clear_error(world_folder):
    world = WorldModel.from_pretrained(world_folder)
    with pytest.raises(ValueError, match="CartPole-v1: observations must be RGB images"):
        adapt_env(world, "CartPole-v1", progress=False)
    with pytest.raises(ValueError, match="ToyDictActions-v0: action space Dict.* is not supported"):
        adapt_env(world, "ToyDictActions-v0", progress=False)
    with pytest.raises(ValueError, match=r"ToyButtonGrid-v0: action space MultiBinary\(\(2, 2\)\) is not supported"):
        adapt_env(world, "ToyButtonGrid-v0", progress=False)
    images = (r"RGB image entries \(uint8 Box \(H, W, 3\)\): \['automap', 'screen'\] "
              r"of \['automap', 'depth', 'health', 'screen'\]")
    with pytest.raises(ValueError, match=r"ToyScreenDict-v0: observations are a Dict: name its RGB image entry with "
                                         r"obs_key \(--obs-key\); " + images):
        adapt_env(world, "ToyScreenDict-v0", progress=False)
    for key in ("depth", "health", "sound"):
        with pytest.raises(ValueError, match=f"obs_key '{key}' is not an RGB image entry of its Dict observations; "
                                             + images):
            adapt_env(world, "ToyScreenDict-v0", progress=False, obs_key=key)
    with pytest.raises(ValueError, match="ToySquareBox-v0: obs_key 'screen' picks an entry of Dict observations"):
        adapt_env(world, "ToySquareBox-v0", progress=False, obs_key="screen")
    result = CliRunner().invoke(app, ["adapt", "--game", "maze", "--dataset", "x", "--obs-key", "screen", "--out", "x"])
    assert result.exit_code == 2 and "--obs-key names an image entry of --env's Dict" in result.output


def test_the_quota_policy_fills_every_discrete_quota_and_covers_a_box():
    policy = QuotaRandomPolicy(gym.spaces.Discrete(5, start=1), per_action=7, seed=0, max_hold=4)
    drawn = [policy.next() for _ in range(35)]
    assert sorted(set(drawn)) == [1, 2, 3, 4, 5] and all(drawn.count(a) == 7 for a in range(1, 6))
    assert policy.done
    with pytest.raises(RuntimeError, match="has had its 7 steps"):
        policy.next()
    buttons = QuotaRandomPolicy(gym.spaces.MultiBinary(3), per_action=6, seed=0, max_hold=4)
    pressed = [tuple(buttons.next()) for _ in range(few_shot_steps(gym.spaces.MultiBinary(3), 6))]
    # N steps with each button pressed alone and N with all released.
    assert sorted(set(pressed)) == [(0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0)]
    assert all(pressed.count(a) == 6 for a in set(pressed))
    box = QuotaRandomPolicy(gym.spaces.Box(-2, 2, (3,), dtype=np.float32), per_action=1, seed=0, max_hold=4)
    samples = np.stack([box.next() for _ in range(400)])
    assert samples.min() < -1.5 and samples.max() > 1.5 and samples.dtype == np.float32


def test_multibinary_map_starts_at_averaged_latents_and_adds_buttons():
    action_map = MultiBinaryActionMap(4, 2)
    actions = torch.tensor([[0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
    latents = torch.tensor([[1.0, 0.0], [3.0, 0.0], [2.0, 5.0], [4.0, 5.0], [0.0, 2.0], [2.0, -1.0]])
    action_map.initialise(actions, latents)
    # Released: the mean latent of released transitions; a button alone: the mean latent of its transitions;
    # buttons together add their differences to released; the never-pressed last button adds nothing.
    pressed = torch.tensor([[0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [1, 1, 0, 0], [0, 0, 0, 1]])
    expected = torch.tensor([[2.0, 0.0], [3.0, 5.0], [0.0, 2.0], [2.0, -1.0], [1.0, 7.0], [2.0, 0.0]])
    torch.testing.assert_close(action_map(pressed), expected)
    with pytest.raises(ValueError, match=r"expected 0/1 actions of shape \(B, 4\)"):
        action_map(torch.tensor([[0, 2, 0, 0]]))


def test_adaptation_benchmark_on_a_gymnasium_env(world_folder):
    from adaworld_gym.evaluation.adaptation_eval import AdaptationMethod, env_task, run_adaptation_benchmark
    from adaworld_gym.models.diffusion.sampler import SamplerConfig

    task = env_task("ToySquareBox-v0", {}, samples_per_action=2, memory=6, clips=2, seed=0)
    assert task.frames.shape == (2, 26, 3, 64, 64) and task.actions.shape == (2, 25, 2)
    assert task.actions.abs().max() <= 1.0  # scaled to the Box's bounds
    method = AdaptationMethod.parse(f"adaworld={world_folder}")
    report = run_adaptation_benchmark([method], [task], per_action=2, steps=(0, 1), batch_size=2,
                                      sampler=SamplerConfig(num_steps=1), progress=False)
    run = report["runs"]["ToySquareBox-v0/adaworld/2"]
    assert set(run) == {"0", "1"} and all(0 < run[s]["psnr"]["20"] <= 100 for s in run)


def test_fine_tuning_without_any_rendered_next_frame_is_a_clear_error(world_folder):
    from adaworld_gym.adaptation.adapt import FewShotData, finetune, initial_action_map

    world = WorldModel.from_pretrained(world_folder)
    # Two one-step episodes whose next frames were never rendered (Procgen ending at the first step).
    frames = [torch.zeros(2, 3, 64, 64, dtype=torch.uint8) for _ in range(2)]
    data = FewShotData(frames, torch.tensor([0, 1]), torch.ones(2), torch.ones(2, dtype=torch.bool),
                       torch.tensor([0, 1]), torch.tensor([0, 0]), torch.zeros(2, dtype=torch.bool))
    action_map = initial_action_map(world, data, gym.spaces.Discrete(2))  # random rows: nothing to average
    with pytest.raises(ValueError, match="no few-shot transition shows its next frame"):
        finetune(world, action_map, data, steps=2, batch_size=2, lr=1e-4, progress=False)
