"""Benchmarks stay runnable: each runs in its --quick form and writes its JSON and markdown (no timing asserts)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_collection_throughput_quick(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "collection_throughput.py"), "--quick", "--out",
                    str(tmp_path)], check=True, capture_output=True)
    report = json.loads((tmp_path / "collection_throughput.json").read_text())
    assert report["settings"]["seed"] == 0
    assert len(report["results"]) == 9 and all(r["rate"] > 0 for r in report["results"])
    assert "| measurement | rate |" in (tmp_path / "collection_throughput.md").read_text()


def test_lam_beta_sweep_quick(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "lam_beta_sweep.py"), "--quick", "--betas", "1e-4",
                    "1e-2", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")], check=True,
                   capture_output=True)
    report = json.loads((tmp_path / "out" / "beta_sweep.json").read_text())
    assert [r["beta"] for r in report["results"]] == [1e-4, 1e-2]
    assert all(0 <= r["probe_moves_noop"] <= 1 and r["kl_nats"] > 0 for r in report["results"])
    assert report["settings"]["seed"] == 0 and "| 0.0001 |" in (tmp_path / "out" / "beta_sweep.md").read_text()


def test_rollout_speed_quick(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "rollout_speed.py"), "--quick", "--out", str(tmp_path)],
                   check=True, capture_output=True)
    report = json.loads((tmp_path / "rollout_speed.json").read_text())
    assert report["settings"]["seed"] == 0 and [r["batch"] for r in report["rows"]] == [1, 4]
    assert all(r["world_model_fps"] > 0 and r["procgen_fps"] > 0 for r in report["rows"])
    # The shipped model takes no hint, so a step is denoising and decoding.
    assert all(set(r["step_ms"]) == {"denoise", "decode"} and min(r["step_ms"].values()) > 0 for r in report["rows"])
    assert "| 1 | " in (tmp_path / "rollout_speed.md").read_text()


def test_rl_imagination_quick(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "rl_imagination.py"), "--quick", "--device", "cpu",
                    "--out", str(tmp_path)], check=True, capture_output=True)
    report = json.loads((tmp_path / "rl.json").read_text())
    assert set(report["results"]) == {"bigfish/random", "bigfish/64/sim", "bigfish/64/real", "bigfish/64/real x10"}
    assert report["results"]["bigfish/64/sim"]["real_interactions"] == 60  # 4 steps of each of 15 actions
    assert report["results"]["bigfish/64/real x10"]["training_steps"] == 640
    assert (tmp_path / "adapters" / "bigfish-64" / "config.json").is_file()
    assert "| bigfish |" in (tmp_path / "rl.md").read_text() and (tmp_path / "rl_curves.png").stat().st_size > 0
    assert " ± " in (tmp_path / "rl.md").read_text()  # every cell with its standard error


def test_agent_profile_quick(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "agent_profile.py"), "--quick", "--out", str(tmp_path)],
                   check=True, capture_output=True)
    report = json.loads((tmp_path / "agent_profile.json").read_text())
    assert report["settings"]["seed"] == 0
    for name in ("planning", "ppo"):
        parts = {p["part"].split(" (")[0]: p for p in report[name]["parts"]}
        # Every part was found in the profile, and nested parts fit inside their parent.
        assert all(p["seconds"] > 0 for p in parts.values()), parts
        assert all(p["share"] <= 1 for p in parts.values())
    ppo = {p["part"].split(" (")[0]: p["seconds"] for p in report["ppo"]["parts"]}
    assert ppo["UNet denoiser"] < ppo["simulator step"] <= ppo["rollout collection"]
    assert "| part | seconds | share |" in (tmp_path / "agent_profile.md").read_text()


def test_lam_encoder_ceiling_quick(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "lam_encoder_ceiling.py"), "--quick", "--out",
                    str(tmp_path)], check=True, capture_output=True)
    report = json.loads((tmp_path / "encoder_ceiling.json").read_text())
    assert report["settings"]["seed"] == 0 and set(report["curves"]) == {"transformer", "cnn"}
    assert all(0 <= row[game] <= 1 for curve in report["curves"].values() for row in curve for game in ("heist", "maze"))
    assert [row["step"] for row in report["curves"]["cnn"]] == [0, 2, 4]
    assert "| cnn | 4 |" in (tmp_path / "encoder_ceiling.md").read_text()


def test_lam_control_quick(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "lam_control.py"), "--quick", "--out", str(tmp_path)],
                   check=True, capture_output=True)
    report = json.loads((tmp_path / "lam_control.json").read_text())
    assert report["settings"]["seed"] == "0" and set(report["games"]) == {"maze"}
    assert all(0 <= report["mean"][k] <= 1 for k in ("real", "true", "shuffled", "zero"))
    assert "| decoder, own latent |" in (tmp_path / "lam_control.md").read_text()


def test_reward_model_quick(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "reward_model.py"), "--quick", "--out", str(tmp_path)],
                   check=True, capture_output=True)
    report = json.loads((tmp_path / "reward_model.json").read_text())
    (spec, chaser), = report["runs"].items()
    assert spec.startswith("chaser=")
    assert chaser["transitions"] == 300 and chaser["reward_delay"] in (0, 1)
    assert chaser["reward"]["count"] == 300 - int(0.8 * 300)  # the held-out 20%
    assert " 300 | " in (tmp_path / "reward_model.md").read_text()
