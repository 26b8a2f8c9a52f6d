"""The `adaworld` command line: the demo job, collection, dataset info, and one-line errors for bad input."""

import subprocess
import sys

import cv2
from typer.testing import CliRunner

from adaworld_gym.cli import app

runner = CliRunner()


def _frames_in(path):
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    return count


def test_demo_writes_video_and_contact_sheet(tmp_path):
    result = runner.invoke(app, ["demo", "--game", "bigfish", "--steps", "40", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "bigfish: 40 steps" in result.output
    assert _frames_in(tmp_path / "bigfish_real.mp4") >= 40
    sheet = cv2.imread(str(tmp_path / "bigfish_real.png"))
    assert sheet is not None and sheet.shape[0] > 64 and sheet.std() > 0


def test_collect_and_info(tmp_path):
    out = tmp_path / "d"
    result = runner.invoke(app, ["collect", "--out", str(out), "--games", "bigfish", "--frames-per-game", "100",
                                 "--num-envs", "2", "--split", "test"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["info", str(out)])
    assert result.exit_code == 0 and '"num_levels": 1000' in result.output and "bigfish:" in result.output


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "adaworld_gym", "train-wm", "--help"], capture_output=True,
                            text=True)
    assert result.returncode == 0 and "--time-limit" in result.stdout


def test_bad_input_gives_one_line_error():
    result = subprocess.run([sys.executable, "-c", "from adaworld_gym.cli import main; main()", "collect",
                             "--out", "/tmp/never", "--games", "pong"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "error: unknown Procgen games ['pong']" in result.stderr and "Traceback" not in result.stderr


def test_play_headless_with_sdl_dummy_driver(tmp_path, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    video = tmp_path / "play.mp4"
    result = runner.invoke(app, ["play", "--game", "maze", "--env", "both", "--actions", "moves", "--max-steps", "6",
                                 "--fps", "100", "--record", str(video), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "6 steps" in result.output and "real [" in result.output and "sim [" in result.output
    assert _frames_in(video) >= 6


def test_keys_map_to_the_subsets_actions():
    from adaworld_gym.envs.procgen_games import resolve_actions
    from adaworld_gym.play import action_for_keys

    full, moves = resolve_actions("full"), resolve_actions("moves")  # moves: LEFT, DOWN, UP, RIGHT
    assert action_for_keys({"LEFT", "UP"}, full) == 2 and action_for_keys(set(), full) == 4
    assert action_for_keys({"RIGHT"}, moves) == 3 and action_for_keys({"Q"}, full) == 13
    assert action_for_keys({"LEFT", "UP"}, moves) == 0  # no diagonal in the subset: first action (no NOOP either)
