"""The real Procgen environments: checkers, seeding, episode ends, save/restore, vector semantics, bad input."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import adaworld_gym  # noqa: F401  (registers the envs)
from adaworld_gym.envs import ProcgenRealEnv, ProcgenRealVectorEnv

NOOP = 4  # index of the NOOP combo in the full action set


@pytest.mark.parametrize("game,actions,n", [("coinrun", "full", 15), ("maze", "moves", 4),
                                            ("heist", "moves_noop", 5), ("bigfish", [0, 4, 7], 3)])
def test_checkers_pass(game, actions, n):
    env = gym.make("ProcgenReal-v0", game=game, actions=actions)
    assert env.observation_space == gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    assert env.action_space == gym.spaces.Discrete(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the human-mode render check warns that there is no display
        check_env(env.unwrapped)
    sb3_check_env(env.unwrapped, warn=False)


def test_moves_subset_maps_to_procgen_combos():
    env = ProcgenRealEnv("maze", actions="moves")
    assert env.action_names == ("LEFT", "DOWN", "UP", "RIGHT")


def _rollout(env, actions):
    frames, rewards = [], []
    for a in actions:
        obs, reward, terminated, truncated, _ = env.step(int(a))
        frames.append(obs)
        rewards.append(reward)
        if terminated or truncated:
            break
    return np.stack(frames), rewards


def test_seed_picks_level_deterministically():
    a, b = ProcgenRealEnv("coinrun"), ProcgenRealEnv("coinrun")
    obs_a, info_a = a.reset(seed=11)
    obs_b, info_b = b.reset(seed=11)
    assert info_a["level"] == info_b["level"]
    np.testing.assert_array_equal(obs_a, obs_b)
    actions = np.random.default_rng(0).integers(15, size=60)
    np.testing.assert_array_equal(_rollout(a, actions)[0], _rollout(b, actions)[0])
    levels = {ProcgenRealEnv("coinrun").reset(seed=s)[1]["level"] for s in range(4)}
    assert len(levels) > 1


def test_level_range_is_respected():
    env = ProcgenRealEnv("coinrun", start_level=1000, num_levels=5)
    levels = {env.reset(seed=s)[1]["level"] for s in range(6)}
    assert levels <= set(range(1000, 1005))


def test_save_restore_replays_identically():
    env = ProcgenRealEnv("coinrun")
    env.reset(seed=3)
    rng = np.random.default_rng(1)
    _rollout(env, rng.integers(15, size=20))
    state = env.get_state()
    actions = rng.integers(15, size=80)
    frames, rewards = _rollout(env, actions)
    assert env.set_state(state).shape == (64, 64, 3)
    frames2, rewards2 = _rollout(env, actions)
    np.testing.assert_array_equal(frames, frames2)
    assert rewards == rewards2


def test_termination_shows_last_frame_not_next_level():
    env = ProcgenRealEnv("bigfish")  # random bigfish dies within a few hundred steps
    obs, info = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(3000):
        previous = obs
        obs, reward, terminated, truncated, info = env.step(int(rng.integers(15)))
        if terminated or truncated:
            break
    assert terminated and not truncated and not info["level_complete"]
    np.testing.assert_array_equal(obs, previous)  # Procgen never renders the end: the last shown frame stays
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)
    first, new_info = env.reset()
    assert not np.array_equal(first, obs)
    assert new_info["level"] != info["level"]


def test_time_limit_is_truncation():
    env = ProcgenRealEnv("maze")  # the mouse never finds the cheese by standing still; maze's limit is 500
    env.reset(seed=0)
    for step in range(1, 501):
        _, _, terminated, truncated, _ = env.step(NOOP)
        if terminated or truncated:
            break
    assert (step, terminated, truncated) == (500, False, True)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="unknown Procgen game 'pong'"):
        gym.make("ProcgenReal-v0", game="pong")
    with pytest.raises(ValueError, match="unknown action subset"):
        ProcgenRealEnv("coinrun", actions="jump")
    with pytest.raises(ValueError, match="distinct combo indices"):
        ProcgenRealEnv("coinrun", actions=[1, 1])
    env = ProcgenRealEnv("maze", actions="moves")
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)
    env.reset(seed=0)
    for bad in (4, -1, 1.5, "UP"):
        with pytest.raises(ValueError, match="not in Discrete"):
            env.step(bad)


def test_rgb_array_render_is_the_observation():
    env = ProcgenRealEnv("coinrun", render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(env.render(), obs)


def test_make_vec_uses_native_batch_with_same_step_autoreset():
    envs = gym.make_vec("ProcgenReal-v0", num_envs=4, game="bigfish")
    assert isinstance(envs, ProcgenRealVectorEnv)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert envs.observation_space.shape == (4, 64, 64, 3)
    obs, info = envs.reset(seed=0)
    assert obs.shape == (4, 64, 64, 3) and info["level"].shape == (4,)
    rng = np.random.default_rng(0)
    for _ in range(2000):
        previous = obs
        obs, rewards, terminated, truncated, info = envs.step(rng.integers(15, size=4))
        ended = terminated | truncated
        if ended.any():
            break
    assert ended.any()
    i = int(np.flatnonzero(ended)[0])
    np.testing.assert_array_equal(info["final_obs"][i], previous[i])
    assert not np.array_equal(obs[i], previous[i])  # already the next episode's first frame
    assert info["_final_obs"].tolist() == ended.tolist()
    assert info["final_info"]["level"][i] != info["level"][i]


def test_vector_seed_and_state_restore_replay_across_autoresets():
    a = ProcgenRealVectorEnv(3, "bigfish")
    b = ProcgenRealVectorEnv(3, "bigfish")
    np.testing.assert_array_equal(a.reset(seed=5)[0], b.reset(seed=5)[0])
    state = a.get_state()
    actions = np.random.default_rng(2).integers(15, size=(400, 3))
    run = lambda env: [env.step(act) for act in actions]
    first = run(a)
    assert any(step[2].any() for step in first), "the replay should cross at least one episode end"
    a.set_state(state)
    for s1, s2, s3 in zip(first, run(a), run(b)):
        for x, y, z in zip(s1[:4], s2[:4], s3[:4]):
            np.testing.assert_array_equal(x, y)
            np.testing.assert_array_equal(x, z)


def test_vector_bad_actions():
    envs = ProcgenRealVectorEnv(2, "coinrun", actions="moves")
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="expected 2 actions"):
        envs.step(np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"integers in \[0, 4\)"):
        envs.step(np.array([0, 4]))
    with pytest.raises(ValueError, match="state was saved from 'bigfish'"):
        envs.set_state(ProcgenRealVectorEnv(2, "bigfish").get_state())
