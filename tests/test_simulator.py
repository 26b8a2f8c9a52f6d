"""The learned simulator: adaptation, the adapter checkpoint, AdaWorld-Procgen-v0 and its vector env."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

import adaworld_gym  # noqa: F401  (registers the environments)
from adaworld_gym.adaptation.adapt import adapt
from adaworld_gym.adaptation.simulator import AdaptedSimulator
from adaworld_gym.models.checkpoint import CheckpointError
from adaworld_gym.models.conditions import make_condition
from adaworld_gym.models.diffusion.denoiser import Denoiser, preset as denoiser_preset
from adaworld_gym.models.frame_autoencoder import FrameAutoencoder, preset as ae_preset
from adaworld_gym.models.latent_action import LatentActionModel, preset as lam_preset
from adaworld_gym.models.world_model import WorldModel


@pytest.fixture(scope="module")
def adapted(tmp_path_factory):
    from adaworld_gym.data import CollectConfig, collect

    root = tmp_path_factory.mktemp("sim")
    torch.manual_seed(0)
    condition = make_condition("latent_action", LatentActionModel(lam_preset("tiny")))
    world = WorldModel(FrameAutoencoder(ae_preset("tiny")), Denoiser(denoiser_preset("tiny")), condition)
    world.save_pretrained(root / "wm")
    data = collect(CollectConfig(out=root / "fewshot", games=["maze"], per_action=6, actions="moves",
                                 split="test"), progress=False).root
    world = WorldModel.from_pretrained(root / "wm")
    sim = adapt(world, data, "maze", "moves", finetune_steps=3, batch_size=4, reward_steps=5, progress=False)
    sim.save_pretrained(root / "adapter", finetuned=True)
    return root, sim, data


def test_adaptation_starts_rows_at_mean_latents_and_reports_reward_model(adapted):
    root, sim, data = adapted
    assert sim.num_actions == 4 and sim.action_names == ("LEFT", "DOWN", "UP", "RIGHT")
    assert sim.metadata["transitions"] >= 24 and sim.metadata["init"] == "average"
    held = sim.metadata["reward_model_held_out"]
    assert set(held) == {"reward_delay", "reward", "episode_end"} and held["reward_delay"] in (0, 1)
    assert held["reward"]["count"] == sim.metadata["transitions"] - int(
        0.8 * sim.metadata["transitions"])
    with pytest.raises(ValueError, match="not of 'coinrun'"):
        adapt(sim.world, data, "coinrun", "moves", finetune_steps=0, progress=False)
    with pytest.raises(ValueError, match="recorded with 4 actions"):
        adapt(sim.world, data, "maze", "full", finetune_steps=0, progress=False)


def test_adaptation_can_keep_another_adapters_reward_model(adapted):
    """The reward model reads real frames and actions only: a new world model's adapter may keep it."""
    root, sim, data = adapted
    world = WorldModel.from_pretrained(root / "wm")
    kept = adapt(world, data, "maze", "moves", finetune_steps=0, reward_model_from=root / "adapter", progress=False)
    assert kept.metadata["reward_model_from"] == str(root / "adapter")
    assert kept.metadata["reward_model_held_out"] == sim.metadata["reward_model_held_out"]
    for name, value in kept.reward_model.state_dict().items():
        assert torch.allclose(value.float(), sim.reward_model.state_dict()[name].half().float())
    with pytest.raises(CheckpointError, match="an adapter for 'maze'"):
        from adaworld_gym.adaptation.simulator import reward_model_of
        import gymnasium as gym
        reward_model_of(root / "adapter", "maze", gym.spaces.Discrete(15))


def test_adapter_round_trip_and_refusals(adapted):
    root, sim, _ = adapted
    world = WorldModel.from_pretrained(root / "wm")
    loaded = AdaptedSimulator.from_pretrained(root / "adapter", world, game="maze", actions="moves")
    assert torch.allclose(loaded.action_map.table.weight, sim.action_map.table.weight.half().float())
    with pytest.raises(CheckpointError, match="adapted for 'maze', not 'coinrun'"):
        AdaptedSimulator.from_pretrained(root / "adapter", world, game="coinrun")
    with pytest.raises(CheckpointError, match="made for actions"):
        AdaptedSimulator.from_pretrained(root / "adapter", world, actions="full")


def test_env_checkers_determinism_and_bad_actions(adapted):
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    root, _, _ = adapted
    kwargs = dict(game="maze", actions="moves", adapter=root / "adapter", world_model=root / "wm", device="cpu",
                  max_episode_steps=5, denoising_steps=2)
    env = gym.make("AdaWorld-Procgen-v0", **kwargs)
    real = gym.make("ProcgenReal-v0", game="maze", actions="moves")
    assert env.observation_space == real.observation_space and env.action_space == real.action_space
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped)

    def run(seed):
        obs, _ = env.reset(seed=seed)
        frames = [obs]
        for a in [0, 1, 2, 3]:
            frames.append(env.step(a)[0])
        return np.stack(frames)
    assert np.array_equal(run(3), run(3))
    noisy = gym.make("AdaWorld-Procgen-v0", **kwargs, memory_noise=0.3)  # the sampler noises the memory it reads
    obs, _ = noisy.reset(seed=3)
    first = [noisy.step(a)[0] for a in [0, 1, 2, 3]]
    noisy.reset(seed=3)
    assert np.array_equal(first, [noisy.step(a)[0] for a in [0, 1, 2, 3]])  # still seeded
    assert not np.array_equal(np.stack([obs, *first]), run(3))
    for _ in range(5):
        *_, terminated, truncated, _ = env.step(0)
        if terminated or truncated:
            break
    assert terminated or truncated  # truncated at max_episode_steps at the latest
    start = np.stack([real.reset(seed=1)[0]] * 2)
    obs, _ = env.reset(options={"frames": start})
    assert np.array_equal(obs, start[-1])
    with pytest.raises(ValueError, match="not in Discrete"):
        env.step(7)
    with pytest.raises(ValueError, match="start frames must be uint8"):
        env.reset(options={"frames": start.astype(np.float32)})


def test_vector_env_batches_and_ppo_runs(adapted):
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecEnv

    root, _, _ = adapted
    envs = gym.make_vec("AdaWorld-Procgen-v0", num_envs=4, game="maze", actions="moves", adapter=root / "adapter",
                        world_model=root / "wm", device="cpu", max_episode_steps=3, denoising_steps=1)
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (4, 64, 64, 3)
    for _ in range(3):
        obs, rewards, terminated, truncated, infos = envs.step(np.array([0, 1, 2, 3]))
    assert truncated.all() and "final_obs" in infos  # all ended at step 3 and were restarted the same step
    with pytest.raises(ValueError, match=r"action 9 \(copy 3\) is not in Discrete\(4\)"):
        envs.step(np.array([0, 1, 2, 9]))

    env = gym.make("AdaWorld-Procgen-v0", game="maze", actions="moves", adapter=root / "adapter",
                   world_model=root / "wm", device="cpu", max_episode_steps=20, denoising_steps=1)
    model = PPO("CnnPolicy", env, n_steps=32, batch_size=16, n_epochs=1, seed=0, verbose=0)
    model.learn(64)
    assert isinstance(model.get_env(), VecEnv)


def test_hinted_world_model_adapts_and_steps_with_autoreset(adapted):
    """A world model with the next-frame hint fine-tunes through it (the action table learns through the latent
    action model's decoder) and steps a batch of copies, autoreset (the hint's last frame) included."""
    from adaworld_gym.simulator.batch import SimulatorBatch

    _, _, data = adapted
    torch.manual_seed(0)
    condition = make_condition("latent_action", LatentActionModel(lam_preset("tiny")))
    world = WorldModel(FrameAutoencoder(ae_preset("tiny")), Denoiser(denoiser_preset("tiny", hint_resolution=64)),
                       condition).eval()
    rows = adapt(world, data, "maze", "moves", finetune_steps=0, reward_steps=2, progress=False).action_map
    rows = rows.table.weight.detach().clone()
    sim = adapt(world, data, "maze", "moves", finetune_steps=3, batch_size=4, reward_steps=2, progress=False)
    assert not torch.equal(rows, sim.action_map.table.weight)
    pool = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    batch = SimulatorBatch(sim, 2, pool, max_episode_steps=2, denoising_steps=1)
    batch.restart(seed=0)
    batch.step(np.array([0, 3]))
    batch.reset_copies(np.array([1]))
    assert torch.equal(batch.state.frame[1].permute(1, 2, 0).cpu(), torch.from_numpy(batch.obs[1]))
    obs, *_ = batch.step(np.array([0, 3]))
    assert obs.shape == (2, 64, 64, 3)


def test_reward_model_learns_and_precision_recall():
    from adaworld_gym.adaptation.reward_model import RewardModel, precision_recall

    torch.manual_seed(0)
    previous = torch.randint(0, 50, (200, 3, 64, 64), dtype=torch.uint8)
    following = previous.clone()
    pays = torch.arange(200) % 10 == 0  # sparse: a white frame pays 10
    following[pays] = 255
    model = RewardModel(2)
    model.fit(previous, following, torch.zeros(200, 2), pays * 10.0, pays, steps=60)
    out = model.predict(previous, following, torch.zeros(200, 2))
    assert float(model.reward_value) == 10.0
    scores = precision_recall(out.reward > 0, pays)
    assert scores["recall"] == 1.0 and scores["precision"] > 0.5
    assert precision_recall(torch.zeros(3), torch.zeros(3))["precision"] is None


def test_compare_sim_and_real(adapted, tmp_path):
    from adaworld_gym.compare import CompareConfig, compare, write_compare

    root, _, _ = adapted
    report = compare(CompareConfig(game="maze", steps=4, actions="moves", adapter=root / "adapter",
                                   world_model=root / "wm", denoising_steps=1, device="cpu"))
    assert len(report["psnr_per_step"]) == report["settings"]["steps_run"] <= 4
    assert 0 <= report["reward_agreement"] <= 1
    files = write_compare(report, tmp_path)
    assert all(path.stat().st_size > 0 for path in files.values())


def test_shipped_simulator_for_every_game():
    """Out of the box: the shipped world model with a shipped adapter per game and subset, on the CPU."""
    from adaworld_gym.envs.procgen_games import PROCGEN_GAMES
    from adaworld_gym.weights import pretrained_path

    for game in PROCGEN_GAMES:
        for subset in ("full", "moves"):
            folder = pretrained_path(f"adapters/{game}-{subset}")
            assert (folder / "model.safetensors").is_file()
            # Made with the rebuilt reward model (a reward timing of its own), not the old kind.
            held_out = json.loads((folder / "config.json").read_text())["metadata"]["reward_model_held_out"]
            assert held_out["reward_delay"] in (0, 1)
    env = gym.make("AdaWorld-Procgen-v0", game="bigfish", device="cpu")
    assert env.action_space == gym.spaces.Discrete(15)
    obs, _ = env.reset(seed=0)
    obs, reward, terminated, truncated, _ = env.step(3)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8 and obs.std() > 0
    envs = gym.make_vec("AdaWorld-Procgen-v0", num_envs=64, game="maze", actions="moves", device="cpu")
    obs, _ = envs.reset(seed=0)
    obs, *_ = envs.step(np.zeros(64, dtype=np.int64))
    assert obs.shape == (64, 64, 64, 3)
    with pytest.raises(FileNotFoundError, match="no shipped weights named 'adapters/maze-moves_noop'"):
        gym.make("AdaWorld-Procgen-v0", game="maze", actions="moves_noop")
