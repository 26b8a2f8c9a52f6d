"""The CLI's options are the config dataclasses' fields, declared once (`adaworld_gym.config_cli`)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import Field, dataclass, field
from pathlib import Path

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from adaworld_gym.adaptation.configs import AdaptConfig
from adaworld_gym.agents.configs import AgentConfig, FindScenesConfig, PlanBenchConfig
from adaworld_gym.cli import DemoConfig, app
from adaworld_gym.compare import CompareConfig
from adaworld_gym.config_cli import cli_fields, config_command, field_docs
from adaworld_gym.data.collect import CollectConfig
from adaworld_gym.envs.procgen_games import PROCGEN_GAMES
from adaworld_gym.evaluation.configs import LamEvalConfig, WmEvalConfig
from adaworld_gym.play import PlayConfig
from adaworld_gym.training.configs import AeTrainConfig, LamTrainConfig, WmTrainConfig
from adaworld_gym.transfer import TransferConfig

ROOT = Path(__file__).resolve().parents[1]
CONFIG_COMMANDS = {"train-lam": LamTrainConfig, "train-ae": AeTrainConfig, "train-wm": WmTrainConfig,
                   "eval-lam": LamEvalConfig, "eval-wm": WmEvalConfig, "train-agent": AgentConfig,
                   "collect": CollectConfig, "adapt": AdaptConfig, "plan-bench": PlanBenchConfig,
                   "find-scenes": FindScenesConfig, "compare": CompareConfig, "play": PlayConfig,
                   "transfer": TransferConfig, "demo": DemoConfig}


def options_of(command) -> dict[str, str]:
    """--option -> help of a click command (without --help)."""
    return {param.opts[0]: param.help or "" for param in command.params if param.opts[0] != "--help"}


def flag(item: Field) -> str:
    return item.metadata.get("flag", "--" + item.name.replace("_", "-"))


@pytest.mark.parametrize("name", sorted(CONFIG_COMMANDS))
def test_each_command_takes_exactly_its_config_fields_each_with_help(name):
    command = get_command(app).commands[name]
    options = options_of(command)
    assert set(options) == {flag(f) for f in cli_fields(CONFIG_COMMANDS[name])}
    assert all(options.values()), [option for option, text in options.items() if not text]


@pytest.mark.parametrize("name,command", [("lam_eval", "eval-lam"), ("wm_eval", "eval-wm")])
def test_the_eval_benchmarks_take_the_same_options_as_their_commands(name, command):
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), "--help"],
                            capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, check=True)
    for option in options_of(get_command(app).commands[command]):
        assert option in result.stdout
    assert f"benchmarks/results/{name}" in result.stdout


@dataclass
class Base:
    # Two lines above
    # the field.
    size: int = 1
    names: list[str] = field(default_factory=lambda: ["a"])  # after it
    path: Path | None = None
    options: dict = field(default_factory=dict)  # a JSON object


@dataclass
class Child(Base):
    size: int = 2  # why the default changes

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError(f"size must be at least 0, got {self.size}")


def test_field_docs_read_the_comments_above_and_after_a_field_and_a_subclass_adds_to_its_base():
    assert field_docs(Child) == {"size": "Two lines above the field. why the default changes",
                                 "names": "after it", "options": "a JSON object"}


def test_options_parse_lists_json_and_paths_and_the_config_checks_become_usage_errors():
    seen = []
    child_app = typer.Typer()
    child_app.command("child")(config_command(Child, seen.append))
    child_app.command("other")(lambda: None)  # two commands, so the first is named
    runner = CliRunner()
    result = runner.invoke(child_app, ["child", "--names", "x,y", "--names", "z", "--path", "p", "--options",
                                       '{"k": 1}'])
    assert result.exit_code == 0, result.output
    assert seen == [Child(size=2, names=["x", "y", "z"], path=Path("p"), options={"k": 1})]
    result = runner.invoke(child_app, ["child", "--size", "-1"])
    assert result.exit_code == 2 and "size must be at least 0, got -1" in result.output
    result = runner.invoke(child_app, ["child", "--options", "[1]"])
    assert result.exit_code == 2 and "wants a JSON object" in result.output


def test_train_wm_rejects_a_bad_option_with_the_configs_message_before_training(tmp_path):
    result = CliRunner().invoke(app, ["train-wm", "--out", str(tmp_path), "--pixel-fold", "3"])
    assert result.exit_code == 2 and "pixel_fold must be one of [1, 2, 4], got 3" in result.output
    assert not any(tmp_path.iterdir())
    result = CliRunner().invoke(app, ["train-agent", "--game", "coinrun", "--in", "dream", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "where (--in) must be 'sim' or 'real', got 'dream'" in result.output


def test_all_means_the_sixteen_games_and_eval_wm_checks_its_models():
    assert LamTrainConfig(out=Path("x")).games == list(PROCGEN_GAMES)
    assert WmEvalConfig(model=["a=x", "b=y"], games=["maze"]).folders == {"a": Path("x"), "b": Path("y")}
    with pytest.raises(ValueError, match="NAME=FOLDER"):
        WmEvalConfig(model=["x"])
    with pytest.raises(ValueError, match="baseline 'c' is not one of the models"):
        WmEvalConfig(model=["a=x"], baseline="c")
    assert CollectConfig(out=Path("x"), games=["all"]).per_action is None  # an unset minimum is not checked
    with pytest.raises(ValueError, match="per_action must be at least 1, got 0"):
        CollectConfig(out=Path("x"), games=["maze"], per_action=0)
