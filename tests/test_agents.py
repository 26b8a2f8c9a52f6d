"""PPO in the learned simulator and in the real game: a few hundred steps each, evaluated on the real game."""

import json

import pytest
import torch

from adaworld_gym.adaptation.adapt import adapt
from adaworld_gym.agents.configs import AgentConfig
from adaworld_gym.agents.train_agent import train_agent
from adaworld_gym.data import CollectConfig, collect
from adaworld_gym.models.checkpoint import load_checkpoint
from adaworld_gym.models.conditions import make_condition
from adaworld_gym.models.diffusion.denoiser import Denoiser, preset as denoiser_preset
from adaworld_gym.models.frame_autoencoder import FrameAutoencoder, preset as ae_preset
from adaworld_gym.models.latent_action import LatentActionModel, preset as lam_preset
from adaworld_gym.models.world_model import WorldModel


@pytest.fixture(scope="module")
def tiny_simulator(tmp_path_factory):
    root = tmp_path_factory.mktemp("agent")
    torch.manual_seed(0)
    condition = make_condition("latent_action", LatentActionModel(lam_preset("tiny")))
    WorldModel(FrameAutoencoder(ae_preset("tiny")), Denoiser(denoiser_preset("tiny")), condition).save_pretrained(
        root / "wm")
    data = collect(CollectConfig(out=root / "fewshot", games=["chaser"], per_action=4, actions="moves",
                                 split="train"), progress=False).root
    adapt(WorldModel.from_pretrained(root / "wm"), data, "chaser", "moves", finetune_steps=0, reward_steps=5,
          progress=False).save_pretrained(root / "adapter")
    return root


@pytest.mark.parametrize("where", ["sim", "real"])
def test_train_agent_runs_and_evaluates_on_the_real_game(where, tiny_simulator, tmp_path):
    root = tiny_simulator
    config = AgentConfig("chaser", tmp_path / where, where, steps=256, num_envs=4, actions="moves",
                         adapter=root / "adapter", world_model=root / "wm", denoising_steps=1, eval_every=128,
                         eval_levels=2, eval_max_steps=30, n_steps=32, batch_size=64, n_epochs=1, device="cpu")
    history = train_agent(config, progress=False)
    assert [h["steps"] for h in history] == [4, 128, 256]  # evaluated at the start, every 128 steps and the end
    assert all(h["real_return"] >= 0 and h["real_return_se"] >= 0 for h in history)
    assert json.loads((tmp_path / where / "evaluations.json").read_text()) == history
    config_saved, state, meta = load_checkpoint(tmp_path / where / "agent", "ppo-agent")
    assert config_saved["where"] == where and meta["steps"] == 256 and state
    assert list((tmp_path / where / "tb").rglob("events.out.tfevents*"))
