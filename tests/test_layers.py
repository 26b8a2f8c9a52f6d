"""The layer check: the package imports nothing from above, and the check finds what it should."""

import subprocess
import sys
from pathlib import Path

from adaworld_gym.devtools.layers import check_package, check_source


def test_no_import_runs_upward_or_sideways():
    run = subprocess.run([sys.executable, "-m", "adaworld_gym.devtools.layers"], capture_output=True, text=True,
                         cwd=Path(__file__).parents[1])
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("layers: ") and "none upward or sideways" in run.stdout


def test_an_upward_import_inside_a_function_counts():
    source = "import numpy\n\n\ndef load(path):\n    from adaworld_gym.agents.train_agent import load_agent\n"
    known = {"adaworld_gym.agents.train_agent"}
    violations, imports = check_source(source, "adaworld_gym.data.policies", Path("policies.py"), known)
    assert imports == 1
    assert [(v.line, v.imported) for v in violations] == [(5, "adaworld_gym.agents.train_agent")]
    assert "agents is on layer" in violations[0].reason and "above data" in violations[0].reason


def test_a_planted_package_shows_each_kind_of_violation(tmp_path):
    files = {
        "__init__.py": "from adaworld_gym import envs\n__version__ = '0'\n",
        "io.py": "",
        "envs/__init__.py": "from . import real\n",  # relative, inside its own unit: fine
        "envs/real.py": "from ..io import write\nfrom adaworld_gym.models import net\n",  # models: same layer
        "models/__init__.py": "",
        "models/net.py": "import adaworld_gym\nfrom adaworld_gym import __version__\n",  # the root: above
        "stray.py": "",  # in no layer
    }
    for name, text in files.items():
        (tmp_path / "adaworld_gym" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "adaworld_gym" / name).write_text(text)
    report = check_package(tmp_path / "adaworld_gym")
    found = {(str(v.path), v.line, v.imported) for v in report.violations}
    assert found == {("adaworld_gym/envs/real.py", 2, "adaworld_gym.models.net"),
                     ("adaworld_gym/models/net.py", 1, "adaworld_gym"),
                     ("adaworld_gym/models/net.py", 2, "adaworld_gym"),
                     ("adaworld_gym/stray.py", 0, "adaworld_gym.stray")}
    assert report.modules == len(files) and report.imports == 6
