"""The adaptation benchmark's machinery on tiny models: every method runs, scores change with fine-tuning, the
data-size axis limits the transitions, and a rerun resumes instead of repeating finished runs."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from adaworld_gym.adaptation.adapt import limit_per_action, load_few_shot
from adaworld_gym.data import CollectConfig, collect
from adaworld_gym.evaluation.metrics import bootstrap_margin_se
from adaworld_gym.models.conditions import make_condition
from adaworld_gym.models.diffusion.denoiser import Denoiser, preset as denoiser_preset
from adaworld_gym.models.frame_autoencoder import FrameAutoencoder, preset as ae_preset
from adaworld_gym.models.latent_action import LatentActionModel, preset as lam_preset
from adaworld_gym.models.world_model import WorldModel

ROOT = Path(__file__).resolve().parents[1]


def _tiny_models_and_data(tmp_path: Path) -> Path:
    """Untrained tiny world models in tmp_path/adaworld and tmp_path/agnostic; returns a ninja few-shot dataset."""
    torch.manual_seed(0)
    autoencoder = FrameAutoencoder(ae_preset("tiny"))
    for kind, folder in (("latent_action", "adaworld"), ("none", "agnostic")):
        condition = make_condition(kind, LatentActionModel(lam_preset("tiny")), dim=32)
        WorldModel(autoencoder, Denoiser(denoiser_preset("tiny")), condition).save_pretrained(tmp_path / folder)
    return collect(CollectConfig(out=tmp_path / "fewshot", games=["ninja"], per_action=4, split="train"),
                   progress=False).root


def test_adaptation_benchmark_runs_every_method_and_resumes(tmp_path):
    data = _tiny_models_and_data(tmp_path)

    few = load_few_shot(data, "ninja", 15)
    limited = limit_per_action(few, 1)
    assert int(limited.observed.sum()) == 15 and int(few.observed.sum()) > 15
    assert all(int((limited.observed & (limited.actions == a)).sum()) == 1 for a in range(15))

    command = [sys.executable, str(ROOT / "benchmarks" / "adaptation.py"), "--dataset", str(data), "--games", "ninja",
               "--per-action", "3", "--steps", "0", "2", "--clips", "2", "--counterfactual-states", "2", "--batch-size", "4",
               "--denoising-steps", "1", "--data-methods", "adaworld", "--data-sizes", "1", "--out",
               str(tmp_path / "out"), "--method", f"adaworld={tmp_path / 'adaworld'}",
               "--method", f"agnostic={tmp_path / 'agnostic'}", "--method", f"scratch={tmp_path / 'adaworld'}:scratch"]
    subprocess.run(command, check=True, capture_output=True)
    report = json.loads((tmp_path / "out" / "adaptation.json").read_text())
    assert set(report["runs"]) == {"ninja/adaworld/3", "ninja/agnostic/3", "ninja/scratch/3", "ninja/adaworld/1"}
    for run in report["runs"].values():
        assert set(run) == {"0", "2"} and all(0 < run[s]["psnr"]["10"] <= 100 for s in run)
        for scores in run.values():  # counterfactual moves from the 2 saved states, held 1 and 3 steps
            assert set(scores["counterfactual"]) == {"1", "3"}
            assert all(0 <= c["right"] <= c["scored"] <= 8 for c in scores["counterfactual"].values())
    assert report["settings"]["counterfactual_states"] == 2
    adaworld = report["runs"]["ninja/adaworld/3"]
    assert adaworld["0"] != adaworld["2"]  # fine-tuning changed the model
    assert report["runs"]["ninja/scratch/3"]["0"] != adaworld["0"]  # a fresh denoiser, not the pretrained one
    assert set(report["margins_at_10_steps"]["ninja"]) == {"agnostic", "scratch"}
    cell = report["margins_at_10_steps"]["ninja"]["agnostic"]["2"]
    agnostic = report["runs"]["ninja/agnostic/3"]
    assert cell["dB"] == pytest.approx(adaworld["2"]["psnr"]["10"] - agnostic["2"]["psnr"]["10"])
    assert cell["se"] >= 0 and len(adaworld["2"]["mse_per_clip"]["10"]) == 2
    # The dataset holds 4 per action; the runs used the first 3 (and 1) of each of the 15 actions.
    assert report["transitions"]["ninja/adaworld/3"] <= 45 and report["transitions"]["ninja/adaworld/1"] <= 15
    assert report["transitions"]["ninja/adaworld/3"] > report["transitions"]["ninja/adaworld/1"] >= 13
    table = (tmp_path / "out" / "adaptation.md").read_text()
    assert "| ninja | scratch |" in table and "adaworld minus each method" in table
    assert table.index("Counterfactual move accuracy") < table.index("Open-loop PSNR")  # the lead metric first
    assert "| **all games** | agnostic |" in table

    # A rerun skips finished runs: a marked result survives it.
    report["runs"]["ninja/agnostic/3"]["0"]["psnr"]["10"] = 42.0
    (tmp_path / "out" / "adaptation.json").write_text(json.dumps(report))
    subprocess.run(command, check=True, capture_output=True)
    again = json.loads((tmp_path / "out" / "adaptation.json").read_text())
    assert again["runs"]["ninja/agnostic/3"]["0"]["psnr"]["10"] == 42.0
    assert again["test_seeds"] == {"ninja": 0}

    # It refuses to add runs scored another way: other fine-tuning steps, a method name on another model, or
    # the game's test clips drawn with another seed (as listing it at another position in --games does).
    steps_at = command.index("--steps")
    for changed, message in ((command[:steps_at + 2] + ["3"] + command[steps_at + 3:], "steps: [0, 2] there"),
                             (command + ["--method", f"agnostic={tmp_path / 'adaworld'}"], "method agnostic"),
                             (command + ["--seed", "1"], "seed: 0 there, 1 now")):
        refused = subprocess.run(changed, capture_output=True, text=True)
        assert refused.returncode != 0 and message in refused.stderr
    again["test_seeds"]["ninja"] = 7
    (tmp_path / "out" / "adaptation.json").write_text(json.dumps(again))
    refused = subprocess.run(command, capture_output=True, text=True)
    assert refused.returncode != 0 and "ninja: the report's runs were scored on test clips of seed 7" in refused.stderr


def test_margin_standard_error_is_paired_over_clips():
    rng = np.random.default_rng(0)
    other = rng.uniform(0.005, 0.05, 16)
    # Half the error on every clip is +3.01 dB whichever clips are drawn: no spread, though the clips vary a lot.
    assert bootstrap_margin_se(list(other / 2), list(other)) < 1e-9
    assert bootstrap_margin_se(list(rng.uniform(0.005, 0.05, 16)), list(other)) > 0.1


def test_action_table_ceiling_scores_each_condition(tmp_path):
    data = _tiny_models_and_data(tmp_path)
    command = [sys.executable, str(ROOT / "benchmarks" / "action_table_ceiling.py"), "--dataset", str(data),
               "--games", "ninja", "--per-action", "3", "--clips", "2", "--denoising-steps", "1",
               "--model", f"adaworld={tmp_path / 'adaworld'}", "--out", str(tmp_path / "out")]
    subprocess.run(command, check=True, capture_output=True)
    report = json.loads((tmp_path / "out" / "action_table_ceiling.json").read_text())
    scores = report["runs"]["ninja/adaworld"]
    assert set(scores) == {"no condition", "one mean row", "averaged table", "true latent actions"}
    psnr = {name: [v["psnr"][h] for h in ("1", "5", "10", "20")] for name, v in scores.items()}
    assert all(0 < p <= 100 for row in psnr.values() for p in row)
    # The conditions reach the denoiser: the real transitions' latents give other frames than zeros.
    assert psnr["true latent actions"] != psnr["no condition"]
    assert "| ninja | adaworld | averaged table |" in (tmp_path / "out" / "action_table_ceiling.md").read_text()


def test_paired_mean_margin_weighs_groups_equally_and_pairs_the_cases():
    from adaworld_gym.evaluation.metrics import paired_mean_margin

    lead = [[1.0, 0.0, 1.0, 1.0], [0.5, 0.5]]
    other = [[0.0, 0.0, 1.0, 0.0], [0.5, 0.0]]
    result = paired_mean_margin(lead, other)
    assert result["margin"] == pytest.approx((0.5 + 0.25) / 2)
    # Differences (1, 0, 0, 1) and (0, 0.5): per-group variance / n, summed, over 2 groups squared.
    assert result["se"] ** 2 == pytest.approx((1 / 3 / 4 + 0.125 / 2) / 4)
    assert paired_mean_margin([[0.3, 0.7]], [[0.2, 0.6]])["se"] == pytest.approx(0.0)  # a constant lead


def _one_training_report(psnr: dict[str, float], clip_errors: dict[str, list[float]], **settings) -> dict:
    """A report of one training per method on one game, with one fine-tuning step count (0)."""
    runs = {f"ninja/{method}/3": {"0": {"psnr": {"10": value}, "mse_per_clip": {"10": clip_errors[method]}}}
            for method, value in psnr.items()}
    base = {"games": ["ninja"], "per_action": 3, "steps": [0], "clips": 2, "seed": 0, "methods": [],
            "data": {"ninja": "few-shot"}}
    return {"settings": base | settings, "runs": runs}


def test_margins_across_trainings_add_the_spread_between_trainings_and_refuse_mixed_reports():
    from adaworld_gym.evaluation.adaptation_eval import margins_across_trainings, trainings_table

    errors = {"lead": [0.01, 0.02], "other": [0.02, 0.02]}
    first = _one_training_report({"lead": 21.0, "other": 20.0}, errors)
    second = _one_training_report({"lead": 19.5, "other": 20.0}, {**errors, "lead": [0.012, 0.03]})
    cell = margins_across_trainings([first, second], "lead", ("other",))["ninja"]["other"]["0"]
    assert cell["per_training"] == [1.0, -0.5] and cell["dB"] == pytest.approx(0.25) and cell["ahead_in"] == 1
    assert cell["se_between_trainings"] == pytest.approx(0.75)  # sd of (1, -0.5) over sqrt(2)
    clips = bootstrap_margin_se([errors["lead"], [0.012, 0.03]], [errors["other"]] * 2)
    assert cell["se_clips"] == pytest.approx(clips) and clips > 0
    assert cell["se"] == pytest.approx((0.75 ** 2 + clips ** 2) ** 0.5)
    assert "| ninja | other | +0.25 ± " in "\n".join(trainings_table({"ninja": {"other": {"0": cell}}}, "lead"))
    # One training scored the same for both methods gives the single-report clip error.
    assert bootstrap_margin_se([errors["lead"]] * 2, [errors["other"]] * 2) == bootstrap_margin_se(
        errors["lead"], errors["other"])

    for bad, message in ((_one_training_report({"lead": 1.0, "other": 2.0}, errors, clips=4), "scored differently"),
                         ({**second, "test_seeds": {"ninja": 5}}, "different test clips"),
                         (first, "one training counted twice")):
        with pytest.raises(ValueError, match=message):
            margins_across_trainings([first, bad], "lead", ("other",))
    assert margins_across_trainings([first], "lead", ("other",)) == {}  # one training has no spread to measure
