"""What each evaluation is told: one dataclass per evaluation, the only declaration of its options.

`adaworld eval-lam` / `benchmarks/lam_eval.py` are built from `LamEvalConfig`, `adaworld eval-wm` /
`benchmarks/wm_eval.py` from `WmEvalConfig` (`config_cli`), so this module stays free of torch: the CLI imports it
to list its options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from adaworld_gym.config_cli import check_at_least
from adaworld_gym.envs.procgen_games import resolve_games


@dataclass
class LamEvalConfig:
    """Evaluate latent actions on test levels: probes, cross-game transfer, delta-PSNR, a t-SNE map."""

    model: Path  # exported latent action model folder (e.g. runs/lam-cpu/model)
    out: Path = Path("results/lam_eval")  # folder for lam_eval.json, lam_eval.md and lam_map.png
    games: list[str] = field(default_factory=lambda: ["all"])  # Procgen games; "all": the 16
    # Test-level transitions per game. About a third are moves + no-op and half of those are probe test data: at
    # 600 the 16 games had 26-114 visible test moves each (62 in maze: a standard error of ~5 points).
    pairs_per_game: int = 2400
    ks: list[int] = field(default_factory=lambda: [4, 8, 12])  # sizes of the k-means control options
    # Random subset of the pairs for reconstruction and delta-PSNR (each costs 8 decodes).
    controllability_pairs: int = 2048
    seed: int = 0  # seeds the test levels, the actions and the probes

    def __post_init__(self) -> None:
        self.games = resolve_games(self.games)
        check_at_least(self, {"pairs_per_game": 20, "controllability_pairs": 1})
        if not self.ks or min(self.ks) < 2:
            raise ValueError(f"ks must be k-means sizes of at least 2, got {self.ks}")


@dataclass
class WmEvalConfig:
    """Evaluate world models on test levels: teacher-forced and open-loop PSNR/SSIM, the action transfer score,
    controllability, and long rollouts with collapse checks."""

    model: list[str]  # NAME=FOLDER of an exported world model; several (repeated or comma-separated) compare
    out: Path = Path("results/wm_eval")  # folder for wm_eval.json, wm_eval.md and wm_curves.png
    games: list[str] = field(default_factory=lambda: ["all"])  # games of the open-loop clips; "all": the 16
    clips_per_game: int = 4  # open-loop test clips per game
    transfer_per_game: int = 32  # clips per transfer game scored by the inverse-dynamics judge
    long_steps: int = 200  # long-horizon rollout length; 0 skips it
    denoising_steps: int = 3  # sampler steps per frame
    guidance_scale: float = 1.0  # classifier-free guidance scale; 1: none
    memory_noise: float = 0.0  # noise level added to the memory at every sampling step (the model is told it)
    # NAME of one of the models: every other model's margins over it, with standard errors.
    baseline: str | None = None
    seed: int = 0  # seeds the test clips, the judges and the sampler
    # Folder to keep the transfer judges in and reuse them from (the same settings only).
    judge_cache: Path | None = None

    def __post_init__(self) -> None:
        self.games = resolve_games(self.games)
        malformed = [item for item in self.model if not item.partition("=")[1] or not item.partition("=")[0]]
        if malformed or not self.model:
            raise ValueError(f"model takes NAME=FOLDER, got {malformed or self.model}")
        if len(self.folders) != len(self.model):
            raise ValueError(f"model names repeat: {self.model}")
        if self.baseline is not None and self.baseline not in self.folders:
            raise ValueError(f"baseline {self.baseline!r} is not one of the models {sorted(self.folders)}")
        check_at_least(self, {"clips_per_game": 1, "transfer_per_game": 4, "long_steps": 0, "denoising_steps": 1,
                              "guidance_scale": 0, "memory_noise": 0})

    @property
    def folders(self) -> dict[str, Path]:
        """The models by name."""
        return {name: Path(folder) for name, _, folder in (item.partition("=") for item in self.model)}
