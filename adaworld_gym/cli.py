"""The `adaworld` command line: see `adaworld --help`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from adaworld_gym.data.collect import CollectConfig, collect, ingest_videos
from adaworld_gym.data.episodes import CorruptEpisodeError, EpisodeStore, read_episode_header
from adaworld_gym.data.policies import make_policy
from adaworld_gym.envs.procgen_games import ACTION_SUBSETS, PROCGEN_ACTION_NAMES, PROCGEN_GAMES
from adaworld_gym.envs.procgen_real import ProcgenRealEnv
from adaworld_gym.video import contact_sheet, write_mp4

app = typer.Typer(help="AdaWorld world models as Gymnasium environments: data, training, simulation.",
                  no_args_is_help=True, pretty_exceptions_enable=False)


def _parse_games(games: str, source: str = "procgen") -> list[str]:
    """'all' (the 16 Procgen games) or a comma-separated list."""
    if games == "all" and source == "procgen":
        return list(PROCGEN_GAMES)
    return [g.strip() for g in games.split(",") if g.strip()]


@app.command()
def games() -> None:
    """List the Procgen games and the action subsets."""
    typer.echo("games: " + ", ".join(PROCGEN_GAMES))
    for name, combos in ACTION_SUBSETS.items():
        typer.echo(f"actions={name}: " + ", ".join(f"{i}={PROCGEN_ACTION_NAMES[c]}" for i, c in enumerate(combos)))


@app.command()
def demo(game: str = typer.Option("coinrun", help="Procgen game."),
         steps: int = typer.Option(300, min=1, help="Environment steps to roll out."),
         policy: str = typer.Option("held", help="Behaviour policy: random or held."),
         actions: str = typer.Option("full", help="Action subset: full, moves, moves_noop."),
         seed: int = typer.Option(0, help="Seed of the level and the policy."),
         out: Path = typer.Option(Path("demo"), help="Folder for the mp4 and the PNG.")) -> None:
    """Roll out the real game and write `<game>_real.mp4` and a contact sheet `<game>_real.png`."""
    env = ProcgenRealEnv(game, actions=actions)
    pick = make_policy(policy, int(env.action_space.n), 1, seed)
    obs, info = env.reset(seed=seed)
    frames, total_reward, episodes, start = [obs], 0.0, 1, np.ones(1, dtype=bool)
    for _ in range(steps):
        action = int(pick(obs[None], start)[0])
        obs, reward, terminated, truncated, info = env.step(action)
        frames.append(obs)
        total_reward += reward
        start = np.array([terminated or truncated])
        if start[0]:
            obs, info = env.reset()
            frames.append(obs)
            episodes += 1
    env.close()
    video = write_mp4(np.stack(frames), out / f"{game}_real.mp4")
    sheet = contact_sheet(np.stack(frames), out / f"{game}_real.png")
    typer.echo(f"{game}: {steps} steps, {episodes} episode(s), total reward {total_reward:g} (seed {seed}, "
               f"policy {policy})\nwrote {video} and {sheet}")


@app.command("collect")
def collect_command(
        out: Path = typer.Option(..., help="Dataset folder (created, or continued if it exists)."),
        games: str = typer.Option("all", help="Comma-separated games, or 'all' (all 16 Procgen games)."),
        source: str = typer.Option("procgen", help="procgen or atari (Atari names like Pong,Breakout)."),
        frames_per_game: int = typer.Option(10_000, min=1, help="Steps of complete episodes per game."),
        per_action: Optional[int] = typer.Option(None, min=1, help="Few-shot mode: exactly N steps per action."),
        num_envs: int = typer.Option(16, min=1, help="Environments stepped together."),
        policy: str = typer.Option("held", help="random, held (random actions held 1..max-hold steps) or sb3."),
        max_hold: int = typer.Option(16, min=1, help="Longest hold of the 'held' policy."),
        sb3_path: Optional[Path] = typer.Option(None, help="Saved stable-baselines3 model for policy sb3."),
        split: str = typer.Option("train", help="train (levels 1000-9999), test (levels 0-999), or custom."),
        start_level: int = typer.Option(0, min=0, help="First level, with --split custom."),
        num_levels: int = typer.Option(0, min=0, help="Number of levels, with --split custom (0 = unbounded)."),
        distribution_mode: str = typer.Option("hard", help="Procgen distribution mode."),
        actions: str = typer.Option("full", help="Procgen action subset: full, moves, moves_noop."),
        seed: int = typer.Option(0, help="Seed of levels and policy."),
) -> None:
    """Collect episodes (frames, actions, rewards, ends, game, level) into a dataset folder."""
    names = _parse_games(games, source)
    config = CollectConfig(out=out, games=names, source=source, frames_per_game=frames_per_game,
                           per_action=per_action, num_envs=num_envs, policy=policy, max_hold=max_hold,
                           sb3_path=sb3_path, split=None if split == "custom" else split, start_level=start_level,
                           num_levels=num_levels, distribution_mode=distribution_mode, actions=actions, seed=seed)
    store = collect(config)
    typer.echo(f"{store.root}: {len(store.episode_paths())} episodes, {store.num_steps()} steps")


@app.command("ingest-videos")
def ingest_videos_command(folder: Path = typer.Argument(..., help="Folder searched for video files."),
                          out: Path = typer.Option(..., help="Dataset folder."),
                          resolution: int = typer.Option(64, min=8, help="Square frame size."),
                          every: int = typer.Option(1, min=1, help="Keep every n-th frame.")) -> None:
    """Add action-free video files (mp4, avi, ...) to a dataset as episodes of game 'video'."""
    store = ingest_videos(folder, out, resolution, every)
    typer.echo(f"{store.root}: {len(store.episode_paths())} video episodes, {store.num_steps()} steps")


@app.command()
def info(dataset: Path = typer.Argument(..., help="Dataset folder.")) -> None:
    """Summarise a dataset: settings, and episodes and steps per game."""
    store = EpisodeStore(dataset)
    per_game: dict[str, list[int]] = {}
    for path in store.episode_paths():
        header = read_episode_header(path)
        per_game.setdefault(header["game"], []).append(header["num_steps"])
    typer.echo(json.dumps(vars(store.info), indent=2))
    for game, lengths in sorted(per_game.items()):
        typer.echo(f"{game}: {len(lengths)} episodes, {sum(lengths)} steps, mean length {np.mean(lengths):.1f}")


@app.command("train-lam")
def train_lam_command(
        out: Path = typer.Option(..., help="Run folder: checkpoints, TensorBoard logs, and the exported model/."),
        preset: str = typer.Option("cpu", help="Model size: tiny (tests), cpu (about an hour here), gpu."),
        steps: int = typer.Option(8000, min=1, help="Optimizer steps in total (a resumed run continues)."),
        batch_size: int = typer.Option(32, min=1),
        lr: float = typer.Option(3e-4, min=0.0),
        games: str = typer.Option("all", help="Comma-separated Procgen games, or 'all'."),
        dataset: Optional[list[Path]] = typer.Option(None, help="Dataset folder(s); default: live Procgen stream."),
        beta: Optional[float] = typer.Option(None, help="KL weight (default 2e-4, as in the paper)."),
        quantizer: Optional[str] = typer.Option(None, help="gaussian (AdaWorld) or vq (Genie-style baseline)."),
        ema_decay: float = typer.Option(0.999, min=0.0, max=1.0, help="EMA of the weights; 0 disables."),
        num_workers: int = typer.Option(1, min=0, help="DataLoader workers."),
        seed: int = typer.Option(0)) -> None:
    """Train the latent action autoencoder on action-free frame pairs (resumes if OUT has a checkpoint)."""
    from adaworld_gym.training.train_lam import LamTrainConfig, train_lam

    names = _parse_games(games)
    config = LamTrainConfig(out=out, preset=preset, steps=steps, batch_size=batch_size, lr=lr, games=names,
                            datasets=dataset or None, beta=beta, quantizer=quantizer, ema_decay=ema_decay,
                            num_workers=num_workers, seed=seed)
    typer.echo(f"exported {train_lam(config)}")


@app.command("eval-lam")
def eval_lam_command(
        model: Path = typer.Option(..., help="Exported latent action model folder (e.g. runs/lam-cpu/model)."),
        out: Path = typer.Option(Path("results/lam_eval"), help="Folder for lam_eval.json/.md and lam_map.png."),
        games: str = typer.Option("all", help="Comma-separated Procgen games, or 'all'."),
        pairs_per_game: int = typer.Option(600, min=20, help="Test-level transitions per game."),
        seed: int = typer.Option(0)) -> None:
    """Evaluate latent actions on test levels: probes, cross-game transfer, delta-PSNR, a t-SNE map."""
    from adaworld_gym.evaluation.lam_eval import markdown_summary, write_lam_report

    names = _parse_games(games)
    typer.echo(markdown_summary(write_lam_report(model, names, out, pairs_per_game, seed=seed)))


def main() -> None:
    """Console entry point: bad input ends with a one-line error naming the problem, not a traceback."""
    try:
        app()
    except (ValueError, FileNotFoundError, CorruptEpisodeError) as err:
        typer.echo(f"error: {err}", err=True)
        raise SystemExit(2) from err
