"""Episode datasets: collection round trip, resume, few-shot quotas, other sources, clip loaders, bad files."""

from functools import partial

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from adaworld_gym.data import (ClipDataset, CollectConfig, CorruptEpisodeError, EpisodeStore, LiveClipStream,
                               collect, ingest_videos, read_episode)
from adaworld_gym.data.episodes import read_episode_header
from adaworld_gym.video import write_mp4


@pytest.fixture(scope="module")
def procgen_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "procgen"
    collect(CollectConfig(out=out, games=["bigfish", "starpilot"], frames_per_game=600, num_envs=4, seed=1),
            progress=False)
    return out


def test_collected_episodes_are_complete_and_consistent(procgen_dataset):
    store = EpisodeStore(procgen_dataset)
    assert store.info.games == ["bigfish", "starpilot"]
    assert store.info.num_actions == {"bigfish": 15, "starpilot": 15}
    assert (store.info.start_level, store.info.num_levels) == (1000, 9000)  # the train split
    for game in store.info.games:
        assert store.num_steps(game) >= 600
    for path in store.episode_paths():
        ep = read_episode(path)
        assert ep.frames.shape == (ep.num_steps + 1, 64, 64, 3)
        assert ep.actions.min() >= 0 and ep.actions.max() < 15
        ends = ep.terminated | ep.truncated
        assert ends[-1] and not ends[:-1].any()  # stored episodes are whole: one end, at the last step
        assert 1000 <= ep.level < 10000
        # Procgen never renders the end: the placeholder last frame repeats the one before, and says so.
        assert not ep.final_frame_observed
        np.testing.assert_array_equal(ep.frames[-1], ep.frames[-2])
        assert len({f.tobytes() for f in ep.frames}) > 1  # frames are the game's, not a constant


def test_resume_keeps_complete_episodes_and_adds_new_ones(tmp_path, monkeypatch):
    out = tmp_path / "d"
    config = CollectConfig(out=out, games=["bigfish"], frames_per_game=400, num_envs=4, seed=0)
    original_write = EpisodeStore.write
    calls = {"n": 0}

    def write_then_crash(self, episode):
        calls["n"] += 1
        if calls["n"] == 3:  # crash while writing the third episode, after its temporary file exists
            (self.root / "episodes" / "bigfish" / "bigfish_0000002.h5.tmp").write_bytes(b"partial")
            raise KeyboardInterrupt
        return original_write(self, episode)

    monkeypatch.setattr(EpisodeStore, "write", write_then_crash)
    with pytest.raises(KeyboardInterrupt):
        collect(config, progress=False)
    monkeypatch.setattr(EpisodeStore, "write", original_write)
    kept = sorted(EpisodeStore(out).episode_paths())
    assert len(kept) == 2
    before = {p.name: p.read_bytes() for p in kept}

    store = collect(config, progress=False)
    assert not list(out.rglob("*.tmp"))
    assert store.num_steps("bigfish") >= 400
    after = store.episode_paths()
    assert len(after) > 2
    assert all(p.read_bytes() == before[p.name] for p in after if p.name in before)
    # The continuation plays new levels rather than replaying the first episodes.
    new_first = read_episode(after[2]).frames[0]
    assert not any(np.array_equal(new_first, read_episode(p).frames[0]) for p in kept)


def test_resume_with_other_settings_is_refused(procgen_dataset):
    with pytest.raises(ValueError, match="other settings.*policy"):
        collect(CollectConfig(out=procgen_dataset, games=["bigfish"], policy="random", seed=1), progress=False)


def test_few_shot_collects_exactly_n_per_action_from_given_levels(tmp_path):
    config = CollectConfig(out=tmp_path / "fs", games=["maze"], per_action=25, actions="moves", split="custom",
                           start_level=7, num_levels=3)
    store = collect(config, progress=False)
    episodes = [read_episode(p) for p in store.episode_paths()]
    counts = np.bincount(np.concatenate([e.actions for e in episodes]), minlength=4)
    assert counts.tolist() == [25, 25, 25, 25]
    assert all(e.level in (7, 8, 9) for e in episodes[:-1])
    assert episodes[-1].truncated[-1]  # the last episode was cut when the quota ran out
    assert collect(config, progress=False).num_steps() == 100  # rerunning adds nothing


def test_few_shot_holds_actions_under_the_held_policy_and_refuses_an_agent(tmp_path):
    runs = {}
    for policy in ("random", "held"):
        store = collect(CollectConfig(out=tmp_path / policy, games=["maze"], per_action=40, actions="moves",
                                      policy=policy, max_hold=8), progress=False)
        actions = np.concatenate([read_episode(p).actions for p in store.episode_paths()])
        assert np.bincount(actions, minlength=4).tolist() == [40, 40, 40, 40]
        runs[policy] = len(actions) / (1 + np.count_nonzero(np.diff(actions)))  # mean length of a run
        assert store.info.policy == ("fewshot-40-held-8" if policy == "held" else "fewshot-40")
    # Uniform over 4 actions: runs of about 4/3 steps; held 1..8 steps: about 4.5 (shorter where a quota ends).
    assert runs["random"] < 1.6 and runs["held"] > 3.0
    with pytest.raises(ValueError, match="policy must be 'random' or 'held', got 'sb3'"):
        collect(CollectConfig(out=tmp_path / "sb3", games=["maze"], per_action=4, policy="sb3"), progress=False)


def test_atari_source_resizes_and_keeps_terminal_frames(tmp_path):
    store = collect(CollectConfig(out=tmp_path / "atari", source="atari", games=["Breakout"],
                                  frames_per_game=100, num_envs=2), progress=False)
    assert store.info.games == ["atari/Breakout"] and store.info.num_actions == {"atari/Breakout": 4}
    ep = read_episode(store.episode_paths()[0])
    assert ep.frames.shape[1:] == (64, 64, 3) and ep.final_frame_observed
    with pytest.raises(ValueError, match="unknown Atari game 'Pongg'"):
        collect(CollectConfig(out=tmp_path / "x", source="atari", games=["Pongg"]), progress=False)


def test_sb3_policy_drives_collection(tmp_path):
    from stable_baselines3 import PPO

    from adaworld_gym.agents.sb3_policy import SB3Policy
    from adaworld_gym.agents.configs import AgentConfig
    from adaworld_gym.agents.train_agent import load_agent, save_agent
    from adaworld_gym.envs import ProcgenRealEnv

    model = PPO("CnnPolicy", ProcgenRealEnv("coinrun", actions="moves"), n_steps=8, batch_size=8, device="cpu")
    save_agent(model, tmp_path / "agent", AgentConfig(game="coinrun", out=tmp_path, actions="moves"), {})
    policy, record = load_agent(tmp_path / "agent")
    obs = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    assert record["actions"] == "moves"
    for name, tensor in model.policy.state_dict().items():  # shared CNN restored under all its names
        assert torch.equal(policy.state_dict()[name], tensor), name
    assert np.array_equal(policy.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])
    agent = partial(SB3Policy, tmp_path / "agent")
    store = collect(CollectConfig(out=tmp_path / "d", games=["coinrun"], actions="moves", policy="sb3",
                                  agent=tmp_path / "agent", frames_per_game=50, num_envs=2), progress=False,
                    agent_policy=agent)
    assert store.num_steps() >= 50
    with pytest.raises(ValueError, match="the policy has 4 actions"):
        collect(CollectConfig(out=tmp_path / "e", games=["coinrun"], policy="sb3", agent=tmp_path / "agent",
                              frames_per_game=10), progress=False, agent_policy=agent)
    model.save(tmp_path / "agent.zip")
    with pytest.raises(ValueError, match="not loaded \\(pickle\\)"):
        collect(CollectConfig(out=tmp_path / "f", games=["coinrun"], actions="moves", policy="sb3",
                              agent=tmp_path / "agent.zip", frames_per_game=10), progress=False,
                agent_policy=partial(SB3Policy, tmp_path / "agent.zip"))


def test_video_folder_ingest(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        write_mp4(rng.integers(0, 255, (12, 48, 80, 3), dtype=np.uint8), tmp_path / "videos" / f"{name}.mp4", scale=1)
    store = ingest_videos(tmp_path / "videos", tmp_path / "vid", resolution=32, progress=False)
    episodes = [read_episode(p) for p in store.episode_paths()]
    assert len(episodes) == 2 and store.info.source == "video"
    assert all(e.frames.shape[1:] == (32, 32, 3) and (e.actions == -1).all() for e in episodes)
    assert len(ingest_videos(tmp_path / "videos", tmp_path / "vid", resolution=32, progress=False)
               .episode_paths()) == 2  # already ingested files are skipped
    with pytest.raises(ValueError, match="no video files"):
        ingest_videos(tmp_path / "vid", tmp_path / "none", progress=False)


def test_clip_dataset_reads_exact_windows_without_crossing_unseen_frames(procgen_dataset):
    ds = ClipDataset(procgen_dataset, clip_len=7)
    headers = [read_episode_header(p) for p in ds.paths]
    assert len(ds) == sum(max(0, h["num_steps"] - 6) for h in headers)  # last transition unobserved: left out
    ep = read_episode(ds.paths[0])
    clip = ds[3]
    np.testing.assert_array_equal(clip["frames"].numpy(), ep.frames[3:10].transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(clip["actions"].numpy(), ep.actions[3:9])
    last = ds[len(ds) - 1]
    ep_last = read_episode(ds.paths[-1])
    np.testing.assert_array_equal(last["frames"].numpy()[-1], ep_last.frames[-2].transpose(2, 0, 1))
    batch = next(iter(DataLoader(ds, batch_size=32, shuffle=True, num_workers=2)))
    assert batch["frames"].shape == (32, 7, 3, 64, 64) and batch["frames"].dtype == torch.uint8
    assert set(batch["game"].tolist()) <= {0, 1}


def test_clip_dataset_refuses_other_games_and_resolutions(procgen_dataset, tmp_path):
    with pytest.raises(ValueError, match="game 'bigfish', but this loader was asked for \\['maze'\\]"):
        ClipDataset(procgen_dataset, clip_len=7, games=["maze"])
    write_mp4(np.zeros((6, 32, 32, 3), np.uint8), tmp_path / "v" / "a.mp4", scale=1)
    ingest_videos(tmp_path / "v", tmp_path / "vid32", resolution=32, progress=False)
    with pytest.raises(ValueError, match="do not mix resolutions"):
        ClipDataset([procgen_dataset, tmp_path / "vid32"], clip_len=3, games=["bigfish", "starpilot", "video"])


def test_corrupt_or_missing_files_are_named(procgen_dataset, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(procgen_dataset, copy)
    victim = EpisodeStore(copy).episode_paths()[1]
    victim.write_bytes(victim.read_bytes()[:1000])
    with pytest.raises(CorruptEpisodeError, match=victim.name):
        read_episode(victim)
    with pytest.raises(CorruptEpisodeError, match=victim.name):
        ClipDataset(copy, clip_len=7)
    (copy / "dataset.json").write_text("{not json")
    with pytest.raises(ValueError, match="corrupt adaworld dataset"):
        EpisodeStore(copy)
    with pytest.raises(FileNotFoundError, match="no adaworld dataset"):
        EpisodeStore(tmp_path / "nothing")


def test_live_stream_yields_clips_of_every_game_reproducibly():
    stream = LiveClipStream(["bigfish", "maze"], clip_len=4, num_envs=2, seed=3)
    take = lambda: [c for _, c in zip(range(40), iter(stream))]
    clips = take()
    assert {int(c["game"]) for c in clips} == {0, 1}
    assert clips[0]["frames"].shape == (4, 3, 64, 64) and clips[0]["actions"].shape == (3,)
    again = take()
    assert all(torch.equal(a["frames"], b["frames"]) for a, b in zip(clips, again))
    batch = next(iter(DataLoader(stream, batch_size=8, num_workers=2)))
    assert batch["frames"].shape == (8, 4, 3, 64, 64)



def test_branch_stream_gives_each_moves_real_outcome_from_one_saved_state():
    """A branch group's context is the real play so far and each outcome is what the real game shows after
    that move from there: replayed by hand with the stream's seeds, level and policy."""
    from adaworld_gym.data.branches import BranchStream
    from adaworld_gym.data.policies import make_policy
    from adaworld_gym.envs.procgen_batch import ProcgenBatch
    from adaworld_gym.envs.procgen_games import split_levels

    stream = BranchStream(["maze"], memory=3, num_envs=2, stride=2, shuffle_buffer=0, seed=5)
    first = next(iter(stream))  # copy 0 after two policy steps from its level start
    start, num = split_levels("train")
    batch = ProcgenBatch("maze", 2, start_level=start, num_levels=num, actions="moves", seed=5)
    policy = make_policy("held", 4, 2, 5, max_hold=16)
    frames, starts = [batch.obs[0]], np.ones(2, dtype=bool)
    for _ in range(2):
        step = batch.step(policy(batch.obs, starts))
        starts = step.terminated | step.truncated
        frames.append(step.obs[0])
    assert torch.equal(first["context"], torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2))
    saved = batch.get_state()
    for move in range(4):
        batch.set_state(saved)
        outcome = batch.step(np.full(2, move)).obs[0]
        assert torch.equal(first["outcomes"][move], torch.from_numpy(outcome).permute(2, 0, 1))
    assert first["outcomes"].shape == (4, 3, 64, 64) and int(first["game"]) == 0
    with pytest.raises(ValueError, match="stride"):
        BranchStream(["maze"], memory=3, stride=0)
