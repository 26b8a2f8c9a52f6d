"""The diffusion world model: conditioning, memory masking, determinism, checkpoints, trainers, evaluation."""

import dataclasses

import numpy as np
import pytest
import torch

from adaworld_gym.evaluation.metrics import colour_histogram, mse, psnr_of_mse, ssim
from adaworld_gym.models.checkpoint import CheckpointError
from adaworld_gym.models.conditions import FlowCondition, NoCondition, make_condition
from adaworld_gym.models.diffusion.denoiser import Denoiser, memory_mask, preset as denoiser_preset
from adaworld_gym.models.diffusion.sampler import DiffusionSampler, SamplerConfig
from adaworld_gym.models.frame_autoencoder import FrameAutoencoder, preset as ae_preset
from adaworld_gym.models.latent_action import LatentActionModel, preset as lam_preset
from adaworld_gym.models.world_model import WorldModel

K, C, S = 6, 8, 16  # memory, latent channels, latent size of the tiny presets


def tiny_world_model(condition="none", lam=None, **denoiser_options) -> WorldModel:
    torch.manual_seed(0)
    cond = make_condition(condition, lam)
    denoiser = Denoiser(denoiser_preset("tiny", condition_dim=cond.dim, **denoiser_options))
    return WorldModel(FrameAutoencoder(ae_preset("tiny")), denoiser, cond).eval()


def test_memory_mask_keeps_the_most_recent_frames():
    mask = memory_mask(torch.tensor([1, 3, 6]), 6)
    assert mask.tolist()[0] == [False] * 5 + [True]
    assert mask.sum(1).tolist() == [1, 3, 6] and mask[1, -3:].all()


@pytest.mark.parametrize("injection", [{}, {"scale_shift": True}, {"scale_shift": True, "condition_channels": 4},
                                       {"scale_shift": True, "predict_change": True, "warp": True}],
                         ids=["additive", "scale-shift", "scale-shift+planes", "warp"])
def test_conditioning_changes_the_output_and_training_uses_it(injection):
    """A denoiser trained on 'the next latent is the last one shifted left or right, as the condition says'
    must predict better with the right condition than with the wrong one, whichever way the condition enters
    (a warping denoiser's latent is a pixel fold, 3 channels a cell; its flow learns a shift of noise slowly)."""
    torch.manual_seed(0)
    channels, steps = (3, 300) if injection.get("warp") else (2, 150)
    denoiser = Denoiser(denoiser_preset("tiny", condition_dim=2, latent_channels=channels, latent_size=8,
                                        **injection))
    optimizer = torch.optim.Adam(denoiser.parameters(), lr=2e-3)

    def batch(n, seed):
        g = torch.Generator().manual_seed(seed)
        memory = torch.randn(n, K, channels, 8, 8, generator=g)
        direction = torch.randint(0, 2, (n,), generator=g)
        target = torch.stack([m[-1].roll(1 if d else -1, dims=-1) for m, d in zip(memory, direction)])
        return memory, target, torch.nn.functional.one_hot(direction, 2).float()

    for step in range(steps):
        memory, target, cond = batch(32, step)
        loss = denoiser(target, memory, torch.full((32,), K), cond)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    denoiser.eval()
    memory, target, cond = batch(64, 10_000)
    sampler = DiffusionSampler(denoiser, SamplerConfig(num_steps=3))
    lengths = torch.full((64,), K)
    right = sampler.sample(memory, lengths, cond, torch.Generator().manual_seed(0))
    wrong = sampler.sample(memory, lengths, cond.flip(-1), torch.Generator().manual_seed(0))
    assert not torch.allclose(right, wrong)
    assert (right - target).pow(2).mean() < 0.5 * (wrong - target).pow(2).mean()


def test_warp_moves_the_last_frame_by_its_flow_and_needs_a_pixel_fold():
    denoiser = Denoiser(denoiser_preset("tiny", latent_channels=12, latent_size=8, predict_change=True, warp=True))
    frame = torch.rand(2, 3, 16, 16) * 2 - 1
    last = torch.nn.functional.pixel_unshuffle(frame, 2)  # the fold autoencoder's latent of a 16 x 16 frame
    assert denoiser.warp_change(torch.zeros(2, 2, 8, 8), last).abs().max() < 1e-6
    from_the_right = torch.zeros(2, 2, 8, 8)
    from_the_right[:, 0] = 1.0  # every pixel takes the value one pixel to its right: the frame moves left
    moved = torch.nn.functional.pixel_shuffle(last + denoiser.warp_change(from_the_right, last), 2)
    assert torch.allclose(moved[..., :-1], frame[..., 1:], atol=1e-5)
    assert torch.allclose(moved[..., -1], frame[..., -1], atol=1e-5)  # the border repeats
    with pytest.raises(ValueError, match="needs predict_change"):
        denoiser_preset("tiny", latent_channels=12, warp=True)
    with pytest.raises(ValueError, match="pixel-fold latent"):
        denoiser_preset("tiny", latent_channels=8, predict_change=True, warp=True)


def test_memory_length_masks_older_frames_and_sampling_is_seeded():
    model = tiny_world_model()
    sampler = model.sampler(SamplerConfig(num_steps=2))
    memory = torch.randn(2, K, C, S, S)
    other = memory.clone()
    other[:, 0] += 5.0  # change only the oldest frame
    cond = torch.zeros(2, model.condition.dim)
    sample = lambda m, n, seed=0: sampler.sample(m, torch.full((2,), n), cond, torch.Generator().manual_seed(seed))
    assert torch.equal(sample(memory, 1), sample(other, 1))  # only the last frame is real: the change is masked
    assert not torch.equal(sample(memory, K), sample(other, K))
    assert torch.equal(sample(memory, K), sample(memory, K)) and not torch.equal(sample(memory, K, 1),
                                                                                 sample(memory, K, 2))


def test_rollout_shapes_determinism_and_guidance():
    model = tiny_world_model("flow")
    context = torch.randint(0, 256, (3, 2, 3, 64, 64), dtype=torch.uint8)
    conditions = torch.randn(3, 4, model.condition.dim)
    frames = model.rollout(context, conditions, seed=7)
    assert frames.shape == (3, 4, 3, 64, 64) and frames.dtype == torch.uint8
    assert torch.equal(frames, model.rollout(context, conditions, seed=7))
    # A batch-1 context is shared by every rollout: the same frames as the context repeated.
    shared = model.rollout(context[:1], conditions, seed=7)
    assert torch.equal(shared, model.rollout(context[:1].expand(3, -1, -1, -1, -1), conditions, seed=7))
    with pytest.raises(ValueError, match="expected conditions of shape"):
        model.rollout(context[:2], conditions)
    guided = model.rollout(context, conditions, SamplerConfig(guidance_scale=2.0), seed=7)
    assert guided.shape == frames.shape and not torch.equal(guided, frames)
    with pytest.raises(ValueError, match="expected conditions of shape"):
        model.rollout(context, torch.randn(3, 4, 5))
    with pytest.raises(ValueError, match="expected uint8 frames"):
        model.rollout(context.float(), conditions)
    with pytest.raises(ValueError, match="num_steps must be at least 1"):
        SamplerConfig(num_steps=0)


def test_world_model_round_trip_and_mismatch_errors(tmp_path):
    lam = LatentActionModel(lam_preset("tiny"))
    model = tiny_world_model("latent_action", lam, scale_shift=True, condition_channels=4)
    context = torch.randint(0, 256, (2, 3, 3, 64, 64), dtype=torch.uint8)
    conditions = model.label(torch.randint(0, 256, (2, 4, 3, 64, 64), dtype=torch.uint8))
    assert conditions.shape == (2, 3, 32)
    model.save_pretrained(tmp_path / "wm", dtype=None)
    loaded = WorldModel.from_pretrained(tmp_path / "wm", resolution=64, condition="latent_action")
    assert torch.equal(model.rollout(context, conditions, seed=1), loaded.rollout(context, conditions, seed=1))
    assert loaded.metadata["condition"]["dim"] == 32
    assert loaded.denoiser.config.scale_shift and loaded.denoiser.config.condition_channels == 4
    with pytest.raises(CheckpointError, match="resolution: checkpoint has 64, expected 32"):
        WorldModel.from_pretrained(tmp_path / "wm", resolution=32)
    with pytest.raises(CheckpointError, match="conditioned on 'latent_action', not 'flow'"):
        WorldModel.from_pretrained(tmp_path / "wm", condition="flow")
    # A latent action model of another size swapped into the folder is refused.
    LatentActionModel(lam_preset("tiny", latent_dim=16)).save_pretrained(tmp_path / "wm" / "latent_action_model")
    with pytest.raises(CheckpointError, match="latent_dim: checkpoint has 16, expected 32"):
        WorldModel.from_pretrained(tmp_path / "wm")
    with pytest.raises(ValueError, match="takes 32-d conditions, the flow condition gives 128"):
        WorldModel(model.autoencoder, model.denoiser, FlowCondition())
    with pytest.raises(CheckpointError, match="no checkpoint folder"):
        WorldModel.from_pretrained(tmp_path / "missing")


def test_next_frame_hint_reaches_the_denoiser_is_dropped_with_the_condition_and_round_trips(tmp_path):
    lam = LatentActionModel(lam_preset("tiny"))
    model = tiny_world_model("latent_action", lam, hint_resolution=64)
    denoiser = model.denoiser
    assert denoiser.config.hint_channels == 48  # 3 colours x 4 x 4 pixels per latent cell
    inputs = (torch.randn(2, C, S, S), torch.ones(2), torch.randn(2, K, C, S, S), torch.full((2,), K),
              torch.zeros(2), torch.randn(2, 32))
    hints = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    kept, dropped = torch.zeros(2, dtype=torch.bool), torch.ones(2, dtype=torch.bool)
    with torch.no_grad():
        assert not torch.allclose(*(denoiser.denoise(*inputs, kept, h) for h in hints))
        assert torch.equal(*(denoiser.denoise(*inputs, dropped, h) for h in hints))
    with pytest.raises(ValueError, match=r"needs a next-frame hint of shape \(2, 3, 64, 64\), got None"):
        denoiser(inputs[0], inputs[2], inputs[3], inputs[5])
    # A hint function is handed the newest memory latent: clean, or as the denoiser sees it with `hint_noise`.
    for noised in (False, True):
        seen, model_of_kind = [], Denoiser(dataclasses.replace(denoiser.config, hint_noise=noised))
        model_of_kind(inputs[0], inputs[2], inputs[3], inputs[5], hint=lambda last: seen.append(last) or hints[0])
        noise = seen[0] - inputs[2][:, -1]
        assert (0 < noise.std() < denoiser.config.memory_noise_max) if noised else torch.equal(noise, 0 * noise)
    # Rollouts draw the hint from each step's last frame; a saved model keeps the option and the same frames.
    context = torch.randint(0, 256, (2, 2, 3, 64, 64), dtype=torch.uint8)
    conditions = torch.randn(2, 3, 32)
    model.save_pretrained(tmp_path / "wm", dtype=None)
    loaded = WorldModel.from_pretrained(tmp_path / "wm")
    assert loaded.denoiser.config.hint_resolution == 64
    assert torch.equal(model.rollout(context, conditions, seed=1), loaded.rollout(context, conditions, seed=1))
    with pytest.raises(ValueError, match="needs a latent action condition"):
        WorldModel(model.autoencoder, denoiser, NoCondition())


def test_conditions_shapes():
    frames = torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8)
    shifted = frames.roll(2, dims=-1)
    flow = FlowCondition()(frames, shifted)
    assert flow.shape == (3, 128) and flow[:, :64].mean() > 0.2  # x-flow of a rightward shift is positive
    agnostic = NoCondition(dim=8)(frames, shifted)
    assert agnostic.shape == (3, 8) and not agnostic.any()
    with pytest.raises(ValueError, match="unknown condition"):
        make_condition("pixels")


def test_metrics():
    a = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8)
    assert torch.allclose(ssim(a, a), torch.ones(4)) and (ssim(a, 255 - a) < 0.5).all()
    assert mse(a, a).max() == 0 and psnr_of_mse(0.0) == 100.0 and abs(psnr_of_mse(0.01) - 20.0) < 1e-9
    hist = colour_histogram(a)
    assert hist.shape == (48,) and torch.allclose(hist.reshape(3, 16).sum(1), torch.ones(3))


def test_change_weights_favour_changed_cells_and_weight_the_diffusion_loss():
    from adaworld_gym.models.change_weights import change_weights

    previous = torch.zeros(2, 3, 64, 64)
    following = previous.clone()
    following[0, 1, 10, 20] = 0.5  # one pixel changes in the first pair, none in the second
    weights = change_weights(previous, following, 50.0, size=16)
    assert weights.shape == (2, 1, 16, 16)
    assert torch.allclose(weights.mean(dim=(2, 3)), torch.ones(2, 1))
    assert weights[0, 0, 2, 5] == weights[0].max() and weights[0, 0, 2, 5] > 10 * weights[0, 0, 0, 0]
    assert torch.allclose(weights[1], torch.ones(1, 16, 16))  # nothing changed: a plain mean
    denoiser = Denoiser(denoiser_preset("tiny", condition_dim=2))
    inputs = (torch.randn(2, C, S, S), torch.randn(2, K, C, S, S), torch.full((2,), K), torch.randn(2, 2))
    losses = []
    for w in (None, torch.ones(2, 1, S, S), weights):
        torch.manual_seed(0)
        losses.append(denoiser(*inputs, w))
    assert torch.allclose(losses[0], losses[1]) and not torch.allclose(losses[0], losses[2])




def test_branch_weights_favour_the_cells_where_the_moves_outcomes_differ():
    from adaworld_gym.models.change_weights import branch_weights

    outcomes = torch.zeros(2, 4, 3, 64, 64, dtype=torch.uint8)
    outcomes[0, 3, 0, 10, 20] = 7  # state 0: only the last move changes one pixel; state 1: all moves alike
    weights = branch_weights(outcomes, 100.0, size=16)
    assert weights.shape == (8, 1, 16, 16)
    assert torch.allclose(weights.mean(dim=(2, 3)), torch.ones(8, 1))
    assert all(torch.equal(weights[m], weights[0]) for m in range(4))  # one map for every member of a group
    assert weights[0, 0, 2, 5] == weights[0].max() and weights[0, 0, 2, 5] > 10 * weights[0, 0, 0, 0]
    assert torch.allclose(weights[4:], torch.ones(4, 1, 16, 16))


def test_grouped_loss_shares_noise_in_a_group_and_weights_what_the_condition_decides():
    """Counterfactual branch groups: the members of a group get the same noise, so a group of identical samples
    (same memory, condition and target) has no error that differs between members and `contrast` changes
    nothing; where the group's targets differ, a contrast above 1 weighs the part of the error that differs
    between them more."""
    denoiser = Denoiser(denoiser_preset("tiny", condition_dim=2))
    memory = torch.randn(2, K, C, S, S).repeat_interleave(2, dim=0)  # 2 groups of 2 members
    lengths, condition = torch.full((4,), K), torch.eye(2).repeat(2, 1)

    def loss(target, contrast, condition=condition):
        torch.manual_seed(0)
        return denoiser(target, memory, lengths, condition, group=2, contrast=contrast)

    same = torch.randn(2, C, S, S).repeat_interleave(2, dim=0)
    one_condition = torch.ones(4, 2)
    assert torch.allclose(loss(same, 1.0, one_condition), loss(same, 50.0, one_condition))
    different = torch.randn(4, C, S, S)
    assert loss(different, 50.0) > 2 * loss(different, 1.0)
    with pytest.raises(ValueError, match="groups of 3"):
        denoiser(different, memory, lengths, condition, group=3)


def test_condition_bases_mix_outputs_and_a_blind_backbone_runs_once_per_group():
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="condition_bases"):
        denoiser_preset("tiny", condition_backbone=False)
    blind = Denoiser(denoiser_preset("tiny", condition_bases=4, condition_backbone=False, condition_dim=5)).eval()
    assert blind.unet.conv_out.out_channels == 4 * 8
    memory = torch.randn(2, 6, 8, 16, 16).repeat_interleave(4, 0)
    noisy = torch.randn(2, 8, 16, 16).repeat_interleave(4, 0)
    condition = torch.randn(8, 5)
    args = (noisy, torch.full((8,), 0.3), memory, torch.full((8,), 6), torch.zeros(8), condition,
            torch.zeros(8, dtype=torch.bool))
    with torch.no_grad():
        shared, each = blind.network(*args, group=4), blind.network(*args)
        moved = blind.network(*args[:5], torch.randn(8, 5), args[6])
    assert torch.allclose(shared, each, atol=1e-5)  # the group's backbone pass is the same as each member's
    assert (moved - each).abs().mean() > 1e-3  # the condition still reaches the output, through the mix


def test_autoencoder_and_world_model_trainers(tmp_path):
    from adaworld_gym.data import CollectConfig, collect
    from adaworld_gym.training.train_ae import AeTrainConfig, train_ae
    from adaworld_gym.training.train_wm import WmTrainConfig, init_denoiser, train_wm

    data = collect(CollectConfig(out=tmp_path / "d", games=["bigfish"], frames_per_game=120, num_envs=2),
                   progress=False).root
    ae_folder = train_ae(AeTrainConfig(out=tmp_path / "ae", preset="tiny", steps=40, batch_size=8, games=["bigfish"],
                                       datasets=[data], num_workers=0, ema_decay=0.9, save_every=20), progress=False)
    ae = FrameAutoencoder.from_pretrained(ae_folder)
    assert ae.metadata["trained_steps"] == 40
    assert not torch.allclose(ae.latent_std, torch.ones(C))  # the export carries the learned latent statistics
    config = WmTrainConfig(out=tmp_path / "wm", autoencoder=ae_folder, condition="flow", preset="tiny", steps=4,
                           batch_size=4, games=["bigfish"], datasets=[data], num_workers=0, save_every=2,
                           image_every=2, log_every=1, change_weight=50.0)
    first = WorldModel.from_pretrained(train_wm(config, progress=False))
    assert first.metadata["trained_steps"] == 4 and first.condition.kind == "flow"
    config.steps = 6
    resumed = WorldModel.from_pretrained(train_wm(config, progress=False))
    assert resumed.metadata["trained_steps"] == 6
    assert list((tmp_path / "wm" / "videos").glob("*.mp4"))
    # A run that starts from committed weights: the same denoiser, and a mismatched one is refused by field.
    fresh = Denoiser(resumed.denoiser.config)
    init_denoiser(fresh, tmp_path / "wm" / "model")
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), resumed.denoiser.state_dict().values()))
    with pytest.raises(CheckpointError, match=r"widths: checkpoint has \(16, 32\), expected \(16, 32, 64\)"):
        init_denoiser(Denoiser(dataclasses.replace(resumed.denoiser.config, widths=(16, 32, 64))),
                      tmp_path / "wm" / "model")
    continued = dataclasses.replace(config, out=tmp_path / "wm-continued", init_from=tmp_path / "wm" / "model", steps=1)
    assert WorldModel.from_pretrained(train_wm(continued, progress=False)).metadata["trained_steps"] == 1
    LatentActionModel(lam_preset("tiny")).save_pretrained(tmp_path / "lam")
    hinted = WmTrainConfig(out=tmp_path / "wm-hint", autoencoder=ae_folder, latent_action_model=tmp_path / "lam",
                           hint=True, hint_noise=True, condition_sample=True, preset="tiny", steps=2, batch_size=4,
                           games=["bigfish"], datasets=[data], num_workers=0, image_every=0)
    exported = WorldModel.from_pretrained(train_wm(hinted, progress=False)).denoiser.config
    assert exported.hint_resolution == 64 and exported.hint_noise  # adaptation fine-tunes the same way
    with pytest.raises(ValueError, match="hint_noise needs a hint"):
        train_wm(WmTrainConfig(out=tmp_path / "bad", autoencoder=ae_folder, hint_noise=True), progress=False)
    with pytest.raises(ValueError, match="'flow' condition has none"):
        train_wm(WmTrainConfig(out=tmp_path / "bad", autoencoder=ae_folder, condition="flow", condition_sample=True),
                 progress=False)


def test_world_model_trains_on_counterfactual_branches_from_its_own_unrolled_memory(tmp_path):
    from adaworld_gym.training.train_wm import WmTrainConfig, train_wm

    LatentActionModel(lam_preset("tiny")).save_pretrained(tmp_path / "lam")
    config = WmTrainConfig(out=tmp_path / "wm", pixel_space=True, pixel_fold=2, latent_action_model=tmp_path / "lam",
                           preset="tiny", denoiser={"sigma_max": 100.0, "condition_dropout": 0.0}, branches=True,
                           contrast=30.0, branch_weight=300.0, unroll=2, steps=2, batch_size=8,
                           games=["maze", "chaser"], num_workers=0, image_every=1, log_every=1)
    world = WorldModel.from_pretrained(train_wm(config, progress=False))
    assert world.metadata["trained_steps"] == 2
    assert world.denoiser.config.latent_size == 32 and world.denoiser.config.sigma_max == 100.0
    with pytest.raises(ValueError, match="takes no --datasets"):
        WmTrainConfig(out=tmp_path / "bad", pixel_space=True, branches=True, datasets=[tmp_path])
    with pytest.raises(ValueError, match="give --branches"):
        WmTrainConfig(out=tmp_path / "bad", pixel_space=True, branch_weight=300.0)
    with pytest.raises(ValueError, match="give --branches"):
        WmTrainConfig(out=tmp_path / "bad", pixel_space=True, unroll=2)
    with pytest.raises(ValueError, match="unknown denoiser option"):
        WmTrainConfig(out=tmp_path / "bad", pixel_space=True, denoiser={"sigma_maximum": 100.0})
    with pytest.raises(ValueError, match="does not split into groups"):
        train_wm(WmTrainConfig(out=tmp_path / "bad", pixel_space=True, branches=True, batch_size=6, preset="tiny",
                               latent_action_model=tmp_path / "lam", games=["maze"], num_workers=0), progress=False)


def test_latent_action_condition_samples_around_its_mean():
    from adaworld_gym.models.conditions import make_condition
    from adaworld_gym.models.latent_action import frames_to_float

    torch.manual_seed(0)
    condition = make_condition("latent_action", LatentActionModel(lam_preset("tiny")))
    frames = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    previous, following = frames[:1].expand(1024, -1, -1, -1), frames[1:].expand(1024, -1, -1, -1)
    mean, draws = condition(previous, following), condition.sample(previous, following)
    with torch.no_grad():
        token = condition.model.action_features(frames_to_float(torch.stack([frames[:1], frames[1:]], dim=1)))
        std = (0.5 * condition.model.to_latent(token).chunk(2, dim=-1)[1]).exp()[0]
    assert not torch.allclose(draws[0], draws[1])  # fresh noise per transition
    assert torch.allclose(draws.mean(0), mean[0], atol=float(5 * std.max() / 32))  # 5 standard errors of 1024
    assert torch.allclose(draws.std(0), std, rtol=0.15)
    vq = make_condition("latent_action", LatentActionModel(lam_preset("tiny", quantizer="vq")))
    assert torch.equal(vq.sample(previous[:2], following[:2]), vq(previous[:2], following[:2]))


def test_test_clips_refuse_impossible_lengths():
    from adaworld_gym.data.clips import test_clips

    frames, actions = test_clips(["maze"], 2, length=5)
    assert frames.shape == (2, 5, 3, 64, 64) and actions.shape == (2, 4)
    with pytest.raises(ValueError, match=r"longer than any episode of \['leaper'\]"):
        test_clips(["coinrun", "leaper"], 1, length=600)  # leaper ends every episode by step 500


def test_per_game_table_splits_the_clips_by_game():
    from adaworld_gym.evaluation.wm_eval import per_game_table

    # Two games, two clips each: game a's errors 0.01 (20 dB), game b's 0.001 and 0.003 (mean 0.002, 26.99 dB).
    errors = {"10": [0.01, 0.01, 0.001, 0.003], "20": [0.1, 0.1, 0.01, 0.01]}
    report = {"settings": {"games": ["a", "b"], "clips_per_game": 2, "horizons": [10, 20]},
              "models": {"m": {"open_loop": {"mse_per_clip": errors}}}}
    rows = per_game_table(report, ("10", "20", "50"))
    assert rows[-2:] == ["| a | 20.00 / 10.00 |", "| b | 26.99 / 20.00 |"] and "at 10 / 20 steps" in rows[1]
    report["settings"]["horizons"] = [1, 2]
    assert per_game_table(report, ("10", "20")) == []


def test_evaluation_and_transfer(tmp_path):
    from adaworld_gym.evaluation.wm_eval import evaluate_world_models, markdown_summary, transfer_cases
    from adaworld_gym.transfer import load_source, load_target, transfer, write_transfer

    cases = transfer_cases("maze", 8, length=4)
    assert cases.source.shape[1:] == (5, 3, 64, 64) and set(cases.moves.tolist()) <= {0, 1, 2, 3}
    models = {"flow": tiny_world_model("flow"), "none": tiny_world_model("none")}
    report = evaluate_world_models(models, ["maze"], clips_per_game=1, transfer_per_game=8, long_per_game=1,
                                   long_steps=8, transfer_games=("maze",), long_games=("maze",), judge_steps=5,
                                   judge_transitions=200, horizons=(1, 2), judge_cache=tmp_path / "judges",
                                   baseline="none", counterfactual_states=2, progress=False)
    # The judge was kept; the same settings load it (same weights, same accuracy) instead of training again.
    from adaworld_gym.evaluation.inverse_dynamics import train_inverse_dynamics
    (kept,) = (tmp_path / "judges").glob("judge-maze-n200-k5-*")
    assert (kept / "model.safetensors").is_file() and (kept / "config.json").is_file()
    judge, accuracy = train_inverse_dynamics("maze", 200, 5, cache=tmp_path / "judges")
    assert accuracy == report["transfer_reference"]["maze"]["judge_accuracy_train_levels"]
    fresh, _ = train_inverse_dynamics("maze", 200, 5)
    assert all(torch.equal(a, b) for a, b in zip(judge.state_dict().values(), fresh.state_dict().values()))
    for result in report["models"].values():
        assert set(result["open_loop"]["psnr"]) == {"1", "2"} and 0 <= result["transfer"]["mean"] <= 1
        assert len(result["long_horizon"]["psnr_per_step"]) == 8
        assert set(result["control"]["maze"]) == {"true", "shuffled"}
        assert 0 <= result["control"]["mean"]["true"] <= 1
    assert set(report["transfer_reference"]["maze"]["autoencoded_target"]) == {"flow", "none"}
    assert "transfer (judge)" in markdown_summary(report) and "control" in markdown_summary(report)
    # Beside the models: the last real frame repeated, and counterfactual moves for the conditioned model only.
    assert set(report["repeat_last_frame"]["psnr"]) == {"1", "2"}
    assert "repeat last real frame" in markdown_summary(report)
    assert set(report["models"]["flow"]["counterfactual"]["pooled"]) == {"1", "3"}
    assert "counterfactual" not in report["models"]["none"] and "Counterfactual moves" in markdown_summary(report)
    # Margins over the baseline: the PSNR difference, and the transfer difference from the per-case scores.
    margin, flow, none = report["margins"]["flow"], report["models"]["flow"], report["models"]["none"]
    assert set(report["margins"]) == {"flow"} and "Margins over none" in markdown_summary(report)
    assert margin["open_loop_psnr"]["2"]["dB"] == pytest.approx(flow["open_loop"]["psnr"]["2"] -
                                                                 none["open_loop"]["psnr"]["2"])
    assert margin["open_loop_psnr"]["2"]["se"] >= 0
    assert margin["transfer"]["margin"] == pytest.approx(flow["transfer"]["maze"] - none["transfer"]["maze"])
    assert len(flow["transfer_per_case"]["maze"]) == report["transfer_reference"]["maze"]["cases"]
    with pytest.raises(ValueError, match="baseline 'agnostic' is not one of the models"):
        evaluate_world_models(models, ["maze"], baseline="agnostic")

    target = load_target("maze:3", 64)
    assert target.shape == (64, 64, 3)
    result = transfer(models["flow"], np.stack([target] * 4), target)
    assert result.imagined.shape == (4, 64, 64, 3) and result.conditions.shape == (3, 128)
    video, sheet = write_transfer(result, tmp_path)
    assert video.stat().st_size > 0 and sheet.stat().st_size > 0
    with pytest.raises(ValueError, match="neither an image file"):
        load_target("notagame:3", 64)
    with pytest.raises(FileNotFoundError, match="no such source"):
        load_source(tmp_path / "missing.mp4", 64)
