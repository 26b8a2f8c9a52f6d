"""The reward / episode-end model: learns a rare visible event, fires about as often as it happened, never
fires for an event it never saw, and the one-step-late reward targets keep every reward."""

import torch

from adaworld_gym.adaptation.adapt import FewShotData, delayed_rewards
from adaworld_gym.adaptation.reward_model import RewardModel, f1_score, precision_recall


def _transitions(n: int, rate: float, seed: int):
    """Black frames; a transition pays (and, less often, ends) when a white square appears in its next frame."""
    g = torch.Generator().manual_seed(seed)
    previous = torch.zeros(n, 3, 32, 32, dtype=torch.uint8)
    following = torch.zeros_like(previous)
    pays = torch.rand(n, generator=g) < rate
    for i in torch.nonzero(pays).flatten().tolist():
        y, x = torch.randint(0, 26, (2,), generator=g).tolist()
        following[i, :, y:y + 6, x:x + 6] = 255
    ends = pays & (torch.rand(n, generator=g) < 0.5)
    actions = torch.nn.functional.one_hot(torch.randint(0, 4, (n,), generator=g), 4)
    return previous, following, actions, pays.float() * 10, ends


def test_reward_model_learns_a_rare_visible_event_at_its_rate():
    torch.manual_seed(0)
    previous, following, actions, rewards, ends = _transitions(1200, 0.04, seed=0)
    model = RewardModel(4, width=8)
    model.fit(previous, following, actions, rewards, ends, steps=150, batch_size=30)
    assert float(model.reward_value) == 10.0
    fitted = model.predict(previous, following, actions)
    assert int((fitted.reward > 0).sum()) == int((rewards > 0).sum())  # fires as often as it happened
    held = model.predict(*_transitions(600, 0.04, seed=1)[:3])
    truth = _transitions(600, 0.04, seed=1)
    assert f1_score(precision_recall(held.reward > 0, truth[3] > 0)) > 0.9
    assert f1_score(precision_recall(held.terminated, truth[4])) > 0.3  # ends: half the rewards, at random


def test_reward_model_never_fires_for_an_event_it_never_saw():
    previous, following, actions, _, _ = _transitions(300, 0.1, seed=2)
    model = RewardModel(4, width=8)
    model.fit(previous, following, actions, torch.zeros(300), torch.zeros(300, dtype=torch.bool), steps=5)
    prediction = model.predict(previous, following, actions)
    assert not prediction.reward.any() and not prediction.terminated.any()


def test_delayed_rewards_pay_one_step_late_and_flush_at_the_end():
    # Two episodes of 3 and 2 transitions.
    rewards = torch.tensor([1.0, 0.0, 2.0, 3.0, 4.0])
    data = FewShotData(frames=[], actions=torch.zeros(5), rewards=rewards, ends=torch.zeros(5, dtype=torch.bool),
                       episode=torch.tensor([0, 0, 0, 1, 1]), step=torch.tensor([0, 1, 2, 0, 1]),
                       observed=torch.ones(5, dtype=torch.bool))
    assert delayed_rewards(data).tolist() == [0.0, 1.0, 2.0, 0.0, 7.0]
    assert float(delayed_rewards(data).sum()) == float(rewards.sum())
