"""Off-policy replay: every trained child of the search feeds every later controller update.

The paper's REINFORCE (Sec. 3.2) uses each child once, in the minibatch that sampled it; at a
budget of 100 trainings that is 12 steps of m = 8. Replay keeps an archive of every child told
(its architecture, its reward and its log-probability under the policy that sampled it) and, after
each on-policy update, takes ``replay_steps`` more steps on PPO's clipped surrogate (Schulman et
al. 2017) over the whole archive:

    L = -1/N sum_i min(rho_i A_i, clip(rho_i, 1 - c, 1 + c) A_i),   rho_i = P_now(a_i) / P_sampler(a_i)

so a child sampled by an older controller is importance-weighted against the policy that drew it
(under staleness and replicas, the sampling controller of its round, RoundPlan.sampling_controller),
and the clip stops the policy from moving far on samples it no longer draws. The advantages are the
rewards standardized over the archive: a child counts by its place among all trained so far, not
by a baseline of the minibatch it came in.

Everything a replay step needs is in the controller's state file (the archive; the behaviour
log-probabilities are those computed when the child was told), so a search resumed from any saved
round replays exactly what an uninterrupted one does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class Archive:
    """Every child told to the controller, in the order told."""

    archs: list[dict[str, Any]] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    log_probs: list[float] = field(default_factory=list)  # under the policy that sampled each child

    def __len__(self) -> int:
        return len(self.archs)

    def add(self, archs: list[dict[str, Any]], rewards: torch.Tensor, log_probs: torch.Tensor) -> None:
        self.archs.extend(archs)
        self.rewards.extend(float(r) for r in rewards.tolist())
        self.log_probs.extend(float(p) for p in log_probs.tolist())  # float32 -> float64: exact

    def advantages(self) -> torch.Tensor:
        """Rewards standardized over the archive (all zero while they tie)."""
        rewards = torch.tensor(self.rewards, dtype=torch.float64)
        centred = rewards - rewards.mean()
        spread = float(centred.std()) if len(rewards) > 1 else 0.0
        return (centred / spread if spread > 0 else torch.zeros_like(centred)).float()

    def behaviour_log_probs(self) -> torch.Tensor:
        return torch.tensor(self.log_probs, dtype=torch.float32)

    def state_dict(self) -> dict[str, Any]:
        return {"archs": list(self.archs), "rewards": list(self.rewards), "log_probs": list(self.log_probs)}

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> "Archive":
        state = state or {}
        return cls(list(state.get("archs", [])), list(state.get("rewards", [])), list(state.get("log_probs", [])))


def clipped_surrogate(log_prob: torch.Tensor, behaviour: torch.Tensor, advantage: torch.Tensor,
                      clip: float | None) -> torch.Tensor:
    """Mean of min(rho A, clip(rho, 1 - c, 1 + c) A) with rho = exp(log_prob - behaviour);
    ``clip`` None: the plain importance-weighted REINFORCE objective mean(rho A)."""
    ratio = torch.exp(log_prob - behaviour)
    surrogate = ratio * advantage
    if clip is not None:
        surrogate = torch.minimum(surrogate, ratio.clamp(1.0 - clip, 1.0 + clip) * advantage)
    return surrogate.mean()
