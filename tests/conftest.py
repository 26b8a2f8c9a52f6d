"""Fixtures shared by the test files."""

import pytest
import torch

from adaworld_gym.models.conditions import make_condition
from adaworld_gym.models.diffusion.denoiser import Denoiser, preset as denoiser_preset
from adaworld_gym.models.frame_autoencoder import FrameAutoencoder, preset as ae_preset
from adaworld_gym.models.latent_action import LatentActionModel, preset as lam_preset
from adaworld_gym.models.world_model import WorldModel


@pytest.fixture(scope="module")
def world_folder(tmp_path_factory):
    """A tiny untrained world model with latent actions, saved: what adaptation tests adapt in seconds."""
    root = tmp_path_factory.mktemp("world")
    torch.manual_seed(0)
    condition = make_condition("latent_action", LatentActionModel(lam_preset("tiny")))
    WorldModel(FrameAutoencoder(ae_preset("tiny")), Denoiser(denoiser_preset("tiny")), condition).save_pretrained(root)
    return root
