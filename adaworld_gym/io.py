"""Atomic file writes: a reader never sees a half-written file, and an interrupted write leaves only a `.tmp`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TMP_SUFFIX = ".tmp"


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed over `path`, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + TMP_SUFFIX)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_report(folder: str | Path, stem: str, report: Any, table_lines: list[str]) -> None:
    """A benchmark's results: `stem.json` (the full report) and `stem.md` (its markdown table) in `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / f"{stem}.json", report)
    with atomic_path(folder / f"{stem}.md") as tmp:
        tmp.write_text("\n".join(table_lines) + "\n")


def read_json(path: str | Path, what: str) -> Any:
    """Read a JSON file, naming the file and what it should be in the error if it is missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no {what} here")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: corrupt {what} ({err})") from err


def save_figure(fig, path: str | Path) -> Path:
    """Lay out, save (atomically, format from the suffix) and close a matplotlib figure."""
    import matplotlib.pyplot as plt

    path = Path(path)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format=path.suffix.lstrip("."))
    plt.close(fig)
    return path
