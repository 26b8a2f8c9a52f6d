"""The latent action autoencoder: shapes, learning, the KL/beta trade-off, checkpoints, trainer resume."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from adaworld_gym.models.change_weights import change_weights
from adaworld_gym.models.checkpoint import CheckpointError
from adaworld_gym.models.latent_action import (LatentActionModel, compose, control_options, frames_to_float,
                                               preset)
from adaworld_gym.models.transformer import patchify, unpatchify


def moving_square_pairs(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs where a white square on a random background patch moves left or right by 4 pixels: the only
    thing f_t cannot tell about f_t+1 is the direction, i.e. the action."""
    rng = np.random.default_rng(seed)
    pairs = np.zeros((n, 2, 3, 64, 64), dtype=np.uint8)
    direction = rng.integers(2, size=n)
    for i in range(n):
        y, x = rng.integers(8, 48, size=2)
        pairs[i, :, 2] = 60
        pairs[i, 0, :, y:y + 8, x:x + 8] = 255
        nx = x + (4 if direction[i] else -4)
        pairs[i, 1, :, y:y + 8, nx:nx + 8] = 255
    return torch.from_numpy(pairs), torch.from_numpy(direction)


def train(model, steps, lr=2e-3, kl_warmup=100):
    """Fresh pairs every step, so the decoder cannot memorise which square moves which way."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for step in range(steps):
        out = model(moving_square_pairs(16, seed=1000 + step)[0], kl_scale=min(1.0, step / kl_warmup))
        opt.zero_grad()
        out.losses["loss"].backward()
        opt.step()
    return out


def test_patchify_round_trip_and_layout():
    x = torch.rand(2, 3, 64, 64)
    assert torch.equal(unpatchify(patchify(x, 8), 8, 64, 64), x)
    assert torch.equal(patchify(x, 8)[0, 1].reshape(8, 8, 3), x[0, :, 0:8, 8:16].permute(1, 2, 0))


@pytest.mark.parametrize("quantizer,encoder,decoder,unet_fold",
                         [("gaussian", "transformer", "transformer", 1), ("vq", "transformer", "transformer", 1),
                          ("gaussian", "transformer", "unet", 1), ("gaussian", "cnn", "unet", 1),
                          ("gaussian", "cnn", "unet", 4), ("vq", "cnn", "transformer", 1)])
def test_shapes(quantizer, encoder, decoder, unet_fold):
    model = LatentActionModel(preset("tiny", quantizer=quantizer, encoder=encoder, decoder=decoder,
                                     unet_fold=unet_fold)).eval()
    video = torch.randint(0, 256, (2, 5, 3, 64, 64), dtype=torch.uint8)
    latents = model.encode(video)
    assert latents.shape == (2, 4, 32)
    assert model.decode(video[:, 0], latents[:, 0]).shape == (2, 3, 64, 64)
    out = model.train()(video[:, :2])
    assert out.prediction.shape == (2, 3, 64, 64) and out.latent.shape == (2, 32)
    assert set(out.losses) == ({"loss", "mse", "kl"} if quantizer == "gaussian" else {"loss", "mse", "vq"})
    if quantizer == "vq":  # (the training pass may have moved unused codes: encode again)
        codes = torch.cdist(model.eval().encode(video).flatten(0, 1), model.codebook.weight).min(dim=1).values
        assert torch.allclose(codes, torch.zeros_like(codes), atol=1e-6)  # every latent is a code vector
    with pytest.raises(ValueError, match=r"expected frames of shape \(\.\.\., 3, 64, 64\)"):
        model.encode(torch.zeros(2, 5, 3, 32, 32))
    with pytest.raises(ValueError, match="expected latent actions of shape"):
        model.decode(video[:, 0], torch.zeros(2, 16))


@pytest.mark.parametrize("encoder", ["transformer", "cnn"])
def test_tiny_model_learns_the_action_from_frames_alone(encoder):
    pairs, direction = moving_square_pairs(32)  # unseen in training
    torch.manual_seed(0)
    model = LatentActionModel(preset("tiny", beta=1e-4, encoder=encoder))
    copy_mse = float(((frames_to_float(pairs[:, 0]) - frames_to_float(pairs[:, 1])) ** 2).mean())
    out = train(model, 300)
    model.eval()
    with torch.no_grad():
        latent = model.encode_pairs(pairs)[1]
        mse = float(((model.decode(pairs[:, 0], latent) - frames_to_float(pairs[:, 1])) ** 2).mean())
    assert mse < 0.45 * copy_mse, (mse, copy_mse)  # ~0.31 after 300 steps; not knowing the direction: ~0.75
    # The latent carries the direction: decoding with the latent of a pair that moved the other way is worse.
    opposite = torch.tensor([int(np.flatnonzero(direction.numpy() != d)[0]) for d in direction.numpy()])
    with torch.no_grad():
        swapped = model.decode(pairs[:, 0], latent[opposite])
    mse_swapped = float(((swapped - frames_to_float(pairs[:, 1])) ** 2).mean())
    assert mse_swapped > 1.5 * mse, (mse_swapped, mse)
    assert out.losses["kl"] > 0


def test_kl_responds_to_beta_and_its_floor():
    kl = {}
    for beta, floor in ((1e-6, 0.0), (1e-1, 0.0), (1e-1, 4.0)):
        torch.manual_seed(0)
        model = LatentActionModel(preset("tiny", beta=beta, kl_floor=floor))
        kl[beta, floor] = float(train(model, 150).losses["kl"].detach())
    assert kl[1e-1, 0.0] < 0.2 * kl[1e-6, 0.0], kl
    assert kl[1e-1, 4.0] > 2 * kl[1e-1, 0.0], kl  # the free nats are kept


def test_change_weight_puts_the_loss_on_changed_pixels():
    pairs, _ = moving_square_pairs(3)
    model = LatentActionModel(preset("tiny", change_weight=9.0))
    pixels = frames_to_float(pairs)
    weights = change_weights(pixels[:, 0], pixels[:, 1], model.config.change_weight)
    assert weights.shape == (3, 1, 64, 64)
    assert torch.allclose(weights.mean(dim=(1, 2, 3)), torch.ones(3))
    changed = (pairs[:, 1] != pairs[:, 0]).any(dim=1, keepdim=True)
    assert torch.allclose(weights[changed] / weights[~changed].max(), torch.tensor(10.0))
    # A fresh decoder predicts f_t, so its whole error sits on the changed pixels: ~8.8x a plain mean here.
    with torch.no_grad():
        out = model.train()(pairs)
    reconstruction = out.losses["loss"] - model.config.beta * out.losses["kl"]
    assert float(reconstruction) > 5 * float(out.losses["mse"])
    with pytest.raises(ValueError, match="change_weight and kl_floor must be >= 0"):
        preset("tiny", change_weight=-1.0)
    with pytest.raises(ValueError, match="unknown decoder 'cnn'"):
        preset("tiny", decoder="cnn")
    with pytest.raises(ValueError, match="unknown encoder 'unet'"):
        preset("tiny", encoder="unet")
    with pytest.raises(ValueError, match="unet_fold 2 needs the unet decoder"):
        preset("tiny", unet_fold=2)
    with pytest.raises(ValueError, match="unet_fold 3 needs the unet decoder and must divide resolution 64"):
        preset("tiny", decoder="unet", unet_fold=3)


@pytest.mark.parametrize("encoder,decoder", [("transformer", "transformer"), ("transformer", "unet"),
                                             ("cnn", "unet")])
def test_save_load_round_trip_and_mismatches(tmp_path, encoder, decoder):
    model = LatentActionModel(preset("tiny", encoder=encoder, decoder=decoder)).eval()
    pairs, _ = moving_square_pairs(4)
    model.save_pretrained(tmp_path / "exact", {"games": ["maze"]}, dtype=None)
    model.save_pretrained(tmp_path / "half", {"games": ["maze"]})
    exact = LatentActionModel.from_pretrained(tmp_path / "exact", resolution=64, latent_dim=32)
    half = LatentActionModel.from_pretrained(tmp_path / "half")
    assert exact.metadata["games"] == ["maze"] and half.config == model.config
    with torch.no_grad():
        reference = model.encode_pairs(pairs)[1]
        assert torch.equal(exact.encode_pairs(pairs)[1], reference)
        assert torch.allclose(half.encode_pairs(pairs)[1], reference, atol=1e-2)
        assert torch.equal(exact.decode(pairs[:, 0], reference), model.decode(pairs[:, 0], reference))
    with pytest.raises(CheckpointError, match="resolution: checkpoint has 64, expected 32"):
        LatentActionModel.from_pretrained(tmp_path / "exact", resolution=32)
    with pytest.raises(CheckpointError, match="latent_dim: checkpoint has 32, expected 16"):
        LatentActionModel.from_pretrained(tmp_path / "exact", latent_dim=16)
    with pytest.raises(CheckpointError, match="quantizer"):
        LatentActionModel.from_pretrained(tmp_path / "exact", quantizer="vq")
    # A removed option loads where the saved value is the behaviour kept, and is refused where it is not.
    saved = json.loads((tmp_path / "exact" / "config.json").read_text())
    for value, loads in (("linear", True), ("conv", False)):
        saved["config"]["patch_embedding"] = value
        (tmp_path / "exact" / "config.json").write_text(json.dumps(saved))
        if loads:
            assert LatentActionModel.from_pretrained(tmp_path / "exact").config == model.config
        else:
            with pytest.raises(CheckpointError, match="patch_embedding='conv', an option since removed"):
                LatentActionModel.from_pretrained(tmp_path / "exact")
    (tmp_path / "half" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="missing or corrupt weights"):
        LatentActionModel.from_pretrained(tmp_path / "half")
    with pytest.raises(CheckpointError, match="no checkpoint folder"):
        LatentActionModel.from_pretrained(tmp_path / "nowhere")


def test_control_options_and_composition():
    latents = np.random.default_rng(0).normal(size=(200, 32))
    for k in (4, 12):
        assert control_options(latents, k).shape == (k, 32)
    with pytest.raises(ValueError, match="k must be between"):
        control_options(latents, 1)
    a, b = torch.ones(32), torch.zeros(32)
    assert torch.equal(compose(a, b), torch.full((32,), 0.5))


def test_trainer_resumes_and_exports(tmp_path):
    from adaworld_gym.data import CollectConfig, collect
    from adaworld_gym.training.train_lam import LamTrainConfig, train_lam

    data = collect(CollectConfig(out=tmp_path / "d", games=["bigfish"], frames_per_game=100, num_envs=2),
                   progress=False).root
    config = LamTrainConfig(out=tmp_path / "run", preset="tiny", steps=6, batch_size=4, games=["bigfish"],
                            datasets=[data], num_workers=0, save_every=3, image_every=3, log_every=1)
    exported = train_lam(config, progress=False)
    first = LatentActionModel.from_pretrained(exported)
    assert first.metadata["trained_steps"] == 6 and first.metadata["games"] == ["bigfish"]
    config.steps = 9
    train_lam(config, progress=False)
    resumed = LatentActionModel.from_pretrained(exported)
    assert resumed.metadata["trained_steps"] == 9
    assert any(not torch.equal(p, q) for p, q in zip(first.state_dict().values(), resumed.state_dict().values()))
    assert list((tmp_path / "run" / "tb").glob("events.out.tfevents.*"))
    with pytest.raises(ValueError, match="asked for \\['maze'\\]"):
        train_lam(LamTrainConfig(out=tmp_path / "other", preset="tiny", steps=1, games=["maze"], datasets=[data],
                                 num_workers=0), progress=False)


def test_decoder_of_finetunes_the_decoder_alone(tmp_path):
    from adaworld_gym.data import CollectConfig, collect
    from adaworld_gym.training.train_lam import LamTrainConfig, train_lam

    data = collect(CollectConfig(out=tmp_path / "d", games=["bigfish"], frames_per_game=100, num_envs=2),
                   progress=False).root
    trained = train_lam(LamTrainConfig(out=tmp_path / "run", preset="tiny", steps=3, batch_size=4, games=["bigfish"],
                                       datasets=[data], num_workers=0, image_every=0, change_weight=50.0,
                                       decoder="unet"),
                        progress=False)
    config = LamTrainConfig(out=tmp_path / "decoder", steps=3, batch_size=4, games=["bigfish"], datasets=[data],
                            num_workers=0, image_every=0, ema_decay=0.0, lr=1e-2, change_weight=0.0,
                            decoder_of=trained)
    before, after = (LatentActionModel.from_pretrained(f) for f in (trained, train_lam(config, progress=False)))
    assert after.config.change_weight == 0.0 and before.config.change_weight == 50.0
    assert after.metadata["decoder_of"] == {"model": str(trained), "trained_steps": 3}
    decoder = {id(p) for m in after.decoder_modules() for p in m.parameters()}
    names = {name for name, p in after.named_parameters() if id(p) in decoder}
    old, new = dict(before.named_parameters()), dict(after.named_parameters())
    assert names and all(torch.equal(old[n], new[n]) for n in new if n not in names)  # the encoder kept
    assert any(not torch.equal(old[n], new[n]) for n in names)
    with pytest.raises(ValueError, match="only change_weight, unet_fold can be set, got \\['quantizer'\\]"):
        train_lam(LamTrainConfig(out=tmp_path / "bad", quantizer="vq", decoder_of=trained), progress=False)
    # A new fold: a fresh decoder of that shape on the same encoder.
    config = replace(config, out=tmp_path / "folded", change_weight=None, unet_fold=2)
    folded = LatentActionModel.from_pretrained(train_lam(config, progress=False))
    assert folded.config.unet_fold == 2 and folded.unet.conv_in.in_channels == 12
    new = dict(folded.named_parameters())
    assert all(torch.equal(old[n], new[n]) for n in new if n not in names)
    # Both decoder kinds name their modules, which hold some of the parameters, not all.
    for kind in ("unet", "transformer"):
        model = LatentActionModel(preset("tiny", decoder=kind))
        decoder = {id(p) for m in model.decoder_modules() for p in m.parameters()}
        assert 0 < len(decoder) < len(list(model.parameters()))


def test_time_limit_ends_the_run_and_drives_the_schedule(tmp_path):
    from adaworld_gym.data import CollectConfig, collect
    from adaworld_gym.training.loop import learning_rate
    from adaworld_gym.training.train_lam import LamTrainConfig, train_lam

    config = LamTrainConfig(out=tmp_path / "run", preset="tiny", steps=1000, lr=1e-3, warmup_steps=10,
                            time_limit=1.0)
    assert learning_rate(50, config) > 0.9e-3  # 5% of the steps and no time used: near the peak
    assert learning_rate(50, config, trained_seconds=30) == pytest.approx(0.55e-3)  # half the minute: mid-cosine
    assert learning_rate(50, config, trained_seconds=60) == pytest.approx(1e-4)  # the minute used: fully decayed
    data = collect(CollectConfig(out=tmp_path / "d", games=["bigfish"], frames_per_game=100, num_envs=2),
                   progress=False).root
    config = LamTrainConfig(out=tmp_path / "run", preset="tiny", steps=1000, batch_size=4, games=["bigfish"],
                            datasets=[data], num_workers=0, time_limit=1e-6, image_every=0)
    exported = train_lam(config, progress=False)  # the limit is spent within the first step: one step, exported
    assert LatentActionModel.from_pretrained(exported).metadata["trained_steps"] == 1


def test_stream_policy_reaches_the_live_data():
    """The world model must not be able to read the next move off its memory frames when trained on 'random'."""
    from adaworld_gym.training.train_lam import LamTrainConfig, clip_loader

    def repeat_share(policy: str) -> float:
        actions = next(iter(clip_loader(7, 32, ["bigfish"], None, 0, seed=0, policy=policy)))["actions"]
        return float((actions[:, 1:] == actions[:, :-1]).float().mean())

    assert repeat_share("held") > 0.6 and repeat_share("random") < 0.25  # 1/15 expected for uniform actions
    with pytest.raises(ValueError, match="unknown stream policy 'greedy'"):
        LamTrainConfig(out=Path("unused"), policy="greedy")


def test_evaluation_report_on_test_levels(tmp_path):
    from adaworld_gym.evaluation.configs import LamEvalConfig
    from adaworld_gym.evaluation.lam_eval import markdown_summary, test_transitions, write_lam_report

    data = test_transitions(["maze"], per_game=50, seed=0)
    assert data.pairs.shape == (50, 2, 3, 64, 64) and data.levels.max() < 1000  # test levels only
    assert not np.array_equal(data.pairs[:, 0], data.pairs[:, 1]) and data.actions.max() < 15
    assert data.visible.dtype == bool and not data.visible[~np.isin(data.actions, (1, 3, 4, 5, 7))].any()
    LatentActionModel(preset("tiny")).save_pretrained(tmp_path / "model")
    report = write_lam_report(LamEvalConfig(model=tmp_path / "model", out=tmp_path / "eval", games=["maze", "heist"],
                                            pairs_per_game=60, ks=[4]))
    info, ctrl = report["action_information"], report["controllability"]
    assert set(info["per_game"]) == {"maze", "heist"}
    assert 0.0 <= info["cross_game_moves_noop"]["probe"] <= 1.0
    assert np.isfinite(ctrl["reconstruction_psnr"]) and set(ctrl["control_options"]) == {"4"}
    # An untrained decoder predicts f_t itself (zero-initialised output): per game, it scores exactly the copy.
    per_game = ctrl["per_game"]
    assert set(per_game) == {"maze", "heist"}
    assert all(s["reconstruction_psnr"] == pytest.approx(s["copy_last_frame_psnr"], abs=1e-3)
               for s in per_game.values())
    assert per_game["maze"]["copy_last_frame_psnr"] != pytest.approx(per_game["heist"]["copy_last_frame_psnr"])
    assert (tmp_path / "eval" / "lam_map.png").stat().st_size > 1000
    assert "cross-game probe" in markdown_summary(report) and "decoder / copying f_t" in markdown_summary(report)
    assert report["latent_kl_nats"] > 0 and "KL of the latent actions" in markdown_summary(report)


def test_evaluation_scores_given_transitions_as_its_own_and_reads_the_latent_kl():
    from adaworld_gym.evaluation.lam_eval import encode_transitions, evaluate_lam, test_transitions

    torch.manual_seed(0)
    model = LatentActionModel(preset("tiny")).eval()
    data = test_transitions(["maze", "heist"], per_game=40, seed=0)
    shared = evaluate_lam(model, ["maze", "heist"], per_game=40, ks=(4,), data=data)
    own = evaluate_lam(model, ["maze", "heist"], per_game=40, ks=(4,))  # collects the same transitions itself
    assert json.dumps(shared, sort_keys=True) == json.dumps(own, sort_keys=True)  # (json: NaN reads equal)
    # The KL by hand: 0.5 * sum(mu^2 + var - 1 - log var) per pair, averaged; independent of the batch size.
    with torch.no_grad():
        mean, logvar = model.to_latent(model.action_features(torch.from_numpy(data.pairs).float() / 255)).chunk(2, -1)
    by_hand = float((0.5 * (mean ** 2 + logvar.exp() - 1 - logvar).sum(-1)).mean())
    assert encode_transitions(model, data, batch_size=7)[1] == pytest.approx(by_hand, rel=1e-4)
    assert shared["latent_kl_nats"] == pytest.approx(by_hand, rel=1e-4)


def test_other_games_probe_reads_whether_an_action_means_the_same_everywhere():
    from adaworld_gym.evaluation.lam_eval import MOVES_NOOP, Transitions, action_information

    rng = np.random.default_rng(0)
    actions = np.tile(np.repeat(MOVES_NOOP, 40), 3)  # three games, 200 visible moves each
    games, n = np.repeat([0, 1, 2], 200), 600
    code = {a: np.eye(10)[i] for i, a in enumerate(MOVES_NOOP)}
    latents = np.stack([code[a] for a in actions]) + 0.05 * rng.standard_normal((n, 10))
    latents[games == 2] = np.roll(latents[games == 2], 5, axis=1)  # game 2 has a code of its own
    data = Transitions(np.zeros((n, 2, 3, 1, 1), np.uint8), actions, rng.integers(0, 1000, n), games,
                       np.ones(n, dtype=bool))
    per_game = action_information(latents, data, ["maze", "heist", "bigfish"])["per_game"]
    other = {game: s["moves_noop_visible_other_games"]["probe"] for game, s in per_game.items()}
    assert other["maze"] > 0.95 and other["heist"] > 0.95 and other["bigfish"] < 0.5
    assert per_game["bigfish"]["moves_noop_visible"]["probe"] > 0.95  # the game itself is perfectly readable


def test_shipped_cpu_weights_load_and_encode():
    from adaworld_gym.weights import pretrained_path

    model = LatentActionModel.from_pretrained(pretrained_path("lam-cpu"), resolution=64, latent_dim=32)
    assert model.metadata["preset"] == "cpu" and len(model.metadata["games"]) == 16
    assert model.config == preset("cpu")  # `train-lam --preset cpu` makes this model
    video = torch.randint(0, 256, (1, 3, 3, 64, 64), dtype=torch.uint8)
    assert torch.isfinite(model.encode(video)).all()
    with pytest.raises(FileNotFoundError, match="no shipped weights named 'wm'"):
        pretrained_path("wm")


def test_vq_model_keeps_its_codes_alive_and_they_carry_the_action():
    """Codebook collapse (every pair on one code) made a VQ latent action model an action-agnostic one."""
    from adaworld_gym.evaluation.lam_eval import code_usage

    pairs, direction = moving_square_pairs(64)  # unseen in training
    torch.manual_seed(0)
    model = LatentActionModel(preset("tiny", quantizer="vq", num_codes=8, encoder="cnn"))
    # 300 steps sufficed on one CPU but not on another (different kernels, different trajectory: 37 of 64 right);
    # 900 split the directions on both.
    train(model, 900, lr=5e-4)
    model.eval()
    with torch.no_grad():
        latents = model.encode_pairs(pairs)[1]
    codes = torch.cdist(latents, model.codebook.weight).argmin(dim=1)
    assert len(codes.unique()) >= 2, codes
    usage = code_usage(latents.numpy())  # the evaluation's collapse check sees the same codes
    assert usage["codes_used"] == len(codes.unique()) and usage["largest_share"] < 1.0
    # Each code stands for one direction: the majority direction of its pairs is right for nearly all pairs.
    right = sum(max(int((direction[codes == c] == d).sum()) for d in (0, 1)) for c in codes.unique())
    assert right >= 0.9 * len(pairs), (right, codes, direction)


def test_action_labels_train_a_head_on_the_latent_and_finetune_keeps_the_weights(tmp_path):
    """With labels, the head on the latent's mean learns the direction of the toy pairs; a label-free model has
    no head and refuses a label weight; `finetune_of` continues every weight of a trained model, head added."""
    torch.manual_seed(0)
    model = LatentActionModel(preset("tiny", action_classes=2))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for step in range(150):
        pairs, direction = moving_square_pairs(16, seed=2000 + step)
        labels = torch.where(torch.arange(16) < 12, direction, torch.full_like(direction, -1))  # 4 unlabelled
        out = model(pairs, kl_scale=min(1.0, step / 100), actions=labels, label_weight=1.0)
        opt.zero_grad()
        out.losses["loss"].backward()
        opt.step()
    assert float(out.losses["label_ce"]) < 0.3 and float(out.losses["label_accuracy"]) > 0.9
    with pytest.raises(ValueError, match="needs a model with an action head"):
        LatentActionModel(preset("tiny"))(pairs, actions=labels, label_weight=1.0)

    from adaworld_gym.data import CollectConfig, collect
    from adaworld_gym.training.train_lam import NUM_PROCGEN_ACTIONS, LamTrainConfig, train_lam

    data = collect(CollectConfig(out=tmp_path / "d", games=["bigfish"], frames_per_game=100, num_envs=2),
                   progress=False).root
    common = dict(steps=3, batch_size=4, games=["bigfish"], datasets=[data], num_workers=0, image_every=0)
    trained = train_lam(LamTrainConfig(out=tmp_path / "run", preset="tiny", **common), progress=False)
    tuned = train_lam(LamTrainConfig(out=tmp_path / "tuned", finetune_of=trained, label_weight=0.5, ema_decay=0.0,
                                     **common), progress=False)
    before, after = (LatentActionModel.from_pretrained(f) for f in (trained, tuned))
    assert before.action_head is None and after.config.action_classes == NUM_PROCGEN_ACTIONS
    assert after.metadata["finetune_of"] == str(trained)
    old, new = dict(before.named_parameters()), dict(after.named_parameters())
    assert any(not torch.equal(old[n], new[n]) for n in old)  # the encoder and decoder trained on


def test_latent_action_model_trains_on_counterfactual_branches_with_their_weights(tmp_path):
    from adaworld_gym.training.train_lam import LamTrainConfig, pairs_of, train_lam

    model = LatentActionModel(preset("tiny", change_weight=300.0)).eval()
    pairs = torch.zeros(4, 2, 3, 64, 64, dtype=torch.uint8)
    pairs[:, 1, :, :4, :4] = 255  # a small change, which the change weights favour
    changed = model(pairs, kl_scale=0.0).losses
    given = model(pairs, kl_scale=0.0, weights=torch.ones(4, 1, 64, 64)).losses  # replace the change weights
    assert changed["loss"] > 10 * changed["mse"] and torch.isclose(given["loss"], given["mse"])
    batch = {"context": torch.zeros(2, 1, 3, 64, 64, dtype=torch.uint8),
             "outcomes": torch.arange(8, dtype=torch.uint8).view(2, 4, 1, 1, 1).expand(2, 4, 3, 64, 64)}
    assert [int(pair[1, 0, 0, 0]) for pair in pairs_of(batch)] == list(range(8))  # group by group, move order

    config = LamTrainConfig(out=tmp_path / "run", preset="tiny", steps=2, batch_size=8, games=["maze", "chaser"],
                            branches=True, branch_weight=300.0, label_weight=0.1, num_workers=0, log_every=1,
                            image_every=1)
    trained = LatentActionModel.from_pretrained(train_lam(config, progress=False))
    assert trained.metadata["trained_steps"] == 2 and trained.config.action_classes == 15
    with pytest.raises(ValueError, match="give --branches"):
        LamTrainConfig(out=tmp_path / "bad", branch_weight=300.0)
    with pytest.raises(ValueError, match="takes no --datasets"):
        LamTrainConfig(out=tmp_path / "bad", branches=True, datasets=[tmp_path])
