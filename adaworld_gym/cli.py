"""The `adaworld` command line: see `adaworld --help`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import typer

from adaworld_gym.adaptation.configs import AdaptConfig
from adaworld_gym.agents.configs import AgentConfig, FindScenesConfig, PlanBenchConfig
from adaworld_gym.compare import CompareConfig
from adaworld_gym.config_cli import check_at_least, config_command
from adaworld_gym.data.collect import CollectConfig, collect, ingest_videos
from adaworld_gym.data.episodes import CorruptEpisodeError, EpisodeStore, read_episode_header
from adaworld_gym.data.policies import check_random_policy, make_policy
from adaworld_gym.data.sources import MissingExtraError
from adaworld_gym.envs.procgen_games import (ACTION_SUBSETS, PROCGEN_ACTION_NAMES, PROCGEN_GAMES, check_game,
                                             resolve_actions)
from adaworld_gym.envs.procgen_real import ProcgenRealEnv
from adaworld_gym.evaluation.configs import LamEvalConfig, WmEvalConfig
from adaworld_gym.play import PlayConfig
from adaworld_gym.training.configs import AeTrainConfig, LamTrainConfig, WmTrainConfig
from adaworld_gym.transfer import TransferConfig
from adaworld_gym.video import contact_sheet, write_mp4

app = typer.Typer(help="AdaWorld world models as Gymnasium environments: data, training, simulation.",
                  no_args_is_help=True, pretty_exceptions_enable=False)


@app.command()
def games() -> None:
    """List the Procgen games and the action subsets."""
    typer.echo("games: " + ", ".join(PROCGEN_GAMES))
    for name, combos in ACTION_SUBSETS.items():
        typer.echo(f"actions={name}: " + ", ".join(f"{i}={PROCGEN_ACTION_NAMES[c]}" for i, c in enumerate(combos)))


@dataclass
class DemoConfig:
    """Roll out the real game and write `<game>_real.mp4` and a contact sheet `<game>_real.png`."""

    game: str = "coinrun"  # Procgen game
    steps: int = 300  # environment steps to roll out
    policy: str = "held"  # behaviour policy: random or held
    actions: str = "full"  # action subset: full, moves, moves_noop
    seed: int = 0  # seed of the level and the policy
    out: Path = Path("demo")  # folder for the mp4 and the PNG

    def __post_init__(self) -> None:
        check_game(self.game)
        resolve_actions(self.actions)
        check_random_policy(self.policy)
        check_at_least(self, {"steps": 1})


def _demo(config: DemoConfig) -> None:
    c = config
    env = ProcgenRealEnv(c.game, actions=c.actions)
    pick = make_policy(c.policy, int(env.action_space.n), 1, c.seed)
    obs, info = env.reset(seed=c.seed)
    frames, total_reward, episodes, start = [obs], 0.0, 1, np.ones(1, dtype=bool)
    for _ in range(c.steps):
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
    video = write_mp4(np.stack(frames), c.out / f"{c.game}_real.mp4")
    sheet = contact_sheet(np.stack(frames), c.out / f"{c.game}_real.png")
    typer.echo(f"{c.game}: {c.steps} steps, {episodes} episode(s), total reward {total_reward:g} (seed {c.seed}, "
               f"policy {c.policy})\nwrote {video} and {sheet}")


app.command("demo")(config_command(DemoConfig, _demo))


def _collect(config: CollectConfig) -> None:
    agent_policy = None
    if config.agent is not None:
        from adaworld_gym.agents.sb3_policy import SB3Policy  # stable-baselines3 loads only when an agent is given

        agent_policy = partial(SB3Policy, config.agent)
    store = collect(config, agent_policy=agent_policy)
    typer.echo(f"{store.root}: {len(store.episode_paths())} episodes, {store.num_steps()} steps")


app.command("collect")(config_command(CollectConfig, _collect))


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


def _train_lam(config: LamTrainConfig) -> None:
    from adaworld_gym.training.train_lam import train_lam
    typer.echo(f"exported {train_lam(config)}")


def _train_ae(config: AeTrainConfig) -> None:
    from adaworld_gym.training.train_ae import train_ae
    typer.echo(f"exported {train_ae(config)}")


def _train_wm(config: WmTrainConfig) -> None:
    from adaworld_gym.training.train_wm import train_wm
    typer.echo(f"exported {train_wm(config)}")


# The trainers' options are their config fields (adaworld_gym/training/configs.py), help from the field comments.
app.command("train-lam")(config_command(
    LamTrainConfig, _train_lam, help="Train the latent action autoencoder on action-free frame pairs (resumes if "
                                     "OUT has a checkpoint)."))
app.command("train-ae")(config_command(
    AeTrainConfig, _train_ae, help="Train the frame autoencoder the world model diffuses in (resumes if OUT has a "
                                   "checkpoint)."))
app.command("train-wm")(config_command(
    WmTrainConfig, _train_wm, help="Pretrain the diffusion world model on action-free video (resumes if OUT has a "
                                   "checkpoint)."))


def _eval_lam(config: LamEvalConfig) -> None:
    from adaworld_gym.evaluation.lam_eval import markdown_summary, write_lam_report
    typer.echo(markdown_summary(write_lam_report(config)))


app.command("eval-lam")(config_command(LamEvalConfig, _eval_lam))


def _eval_wm(config: WmEvalConfig) -> None:
    from adaworld_gym.evaluation.wm_eval import markdown_summary, write_wm_report
    typer.echo(markdown_summary(write_wm_report(config)))


app.command("eval-wm")(config_command(WmEvalConfig, _eval_wm))


def _transfer(config: TransferConfig) -> None:
    from adaworld_gym.models.diffusion.sampler import SamplerConfig
    from adaworld_gym.models.world_model import WorldModel
    from adaworld_gym.transfer import load_source, load_target, transfer, write_transfer
    from adaworld_gym.weights import pretrained_path

    c = config
    world = WorldModel.from_pretrained(c.model or pretrained_path("wm-cpu"))
    result = transfer(world, load_source(c.source, world.resolution, c.start, c.length),
                      load_target(c.target, world.resolution), SamplerConfig(num_steps=c.denoising_steps), c.seed)
    video, sheet = write_transfer(result, c.out)
    typer.echo(f"transferred {len(result.conditions)} transitions; wrote {video} and {sheet}")


app.command("transfer")(config_command(TransferConfig, _transfer))


def _adapt(config: AdaptConfig) -> None:
    from adaworld_gym.adaptation.adapt import adapt
    from adaworld_gym.adaptation.env_adapt import adapt_env
    from adaworld_gym.models.world_model import WorldModel
    from adaworld_gym.simulator.loading import resolve_device
    from adaworld_gym.weights import pretrained_path

    c = config
    world = WorldModel.from_pretrained(c.world_model or pretrained_path("wm-cpu"), device=resolve_device(c.device))
    if c.env is not None:
        simulator = adapt_env(world, c.env, c.env_kwargs, c.samples_per_action, c.finetune_steps, c.batch_size, c.lr,
                              c.init, reward_steps=c.reward_steps, seed=c.seed, obs_key=c.obs_key)
    else:
        simulator = adapt(world, c.dataset, c.game, c.actions, finetune_steps=c.finetune_steps,
                          batch_size=c.batch_size, lr=c.lr, init=c.init, reward_steps=c.reward_steps, seed=c.seed,
                          reward_model_from=c.reward_model_from)
    recorded = str(c.world_model.resolve()) if c.world_model else None  # AdaWorld-v0 loads it from anywhere
    folder = simulator.save_pretrained(c.out, {"world_model_folder": recorded}, finetuned=c.finetune_steps > 0)
    typer.echo(json.dumps(simulator.metadata["reward_model_held_out"]))
    typer.echo(f"wrote {folder}" + (f"; use it with gym.make('AdaWorld-v0', checkpoint='{folder}')" if c.env else ""))


app.command("adapt")(config_command(AdaptConfig, _adapt))


def _compare(config: CompareConfig) -> None:
    from adaworld_gym.compare import compare, write_compare

    report = compare(config)
    files = write_compare(report, config.out)
    psnr, frozen = report["psnr_per_step"], report["repeat_start_frame"]["psnr_per_step"]
    marks = ", ".join(f"step {t}: {psnr[t - 1]:.1f} dB (start frame repeated: {frozen[t - 1]:.1f})"
                      for t in (1, 5, 10, 20, 50) if t <= len(psnr))
    settings = report["settings"]
    where = settings["game"] + (f" level {config.level}" if "level" in settings else "")
    typer.echo(f"{where}, {len(psnr)} steps (seed {config.seed}, policy {config.policy}): PSNR sim vs real {marks}; "
               f"reward agreement {report['reward_agreement']:.0%}, episode-end agreement "
               f"{report['end_agreement']:.0%}\nwrote {', '.join(str(p) for p in files.values())}")


def _play(config: PlayConfig) -> None:
    from adaworld_gym.play import play

    session = play(config)
    typer.echo(f"{session.steps} steps, {session.episodes} finished episodes; returns: "
               + ", ".join(f"{name} {returns}" for name, returns in session.returns.items())
               + (f"\nwrote {config.record}" if config.record and session.frames else ""))


app.command("compare")(config_command(CompareConfig, _compare))
app.command("play")(config_command(PlayConfig, _play))


def _find_scenes(config: FindScenesConfig) -> None:
    from adaworld_gym.agents.scenes import find_scenes, save_scenes

    c = config
    for game in c.games:
        scenes = find_scenes(game, c.count, c.start_level, c.num_levels, c.max_steps, c.max_nodes,
                             c.distribution_mode, c.min_steps)
        settings = {"game": game, "distribution_mode": c.distribution_mode, "max_steps": c.max_steps,
                    "min_steps": c.min_steps, "start_level": c.start_level, "num_levels": c.num_levels,
                    "max_nodes": c.max_nodes}
        folder = save_scenes(scenes, c.out / game, settings) if scenes else None
        lengths = [s.length for s in scenes]
        typer.echo(f"{game}: {len(scenes)} scenes (solution lengths {lengths})" + (f" -> {folder}" if folder else ""))


app.command("find-scenes")(config_command(FindScenesConfig, _find_scenes))


def _plan_bench(config: PlanBenchConfig) -> None:
    from adaworld_gym.agents.plan_bench import markdown_table, plan_bench

    report = plan_bench(config)
    reduced = report["settings"]["reduced"]
    typer.echo(markdown_table(report) + ("\nreduced run (below the protocol in: " + ", ".join(reduced) + ")"
                                         if reduced else "\nfull protocol"))


app.command("plan-bench")(config_command(PlanBenchConfig, _plan_bench))


def _train_agent(config: AgentConfig) -> None:
    from adaworld_gym.agents.train_agent import train_agent
    history = train_agent(config)
    typer.echo("real-game return: " + ", ".join(f"{h['real_return']:.2f} at {h['steps']}" for h in history))


app.command("train-agent")(config_command(AgentConfig, _train_agent))


def main() -> None:
    """Console entry point: bad input ends with a one-line error naming the problem, not a traceback."""
    try:
        app()
    # CheckpointError is a ValueError
    except (ValueError, FileNotFoundError, CorruptEpisodeError, MissingExtraError) as err:
        typer.echo(f"error: {err}", err=True)
        raise SystemExit(2) from err
