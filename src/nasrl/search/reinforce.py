"""REINFORCE with an exponential-moving-average baseline (Zoph & Le 2017, Sec. 3.2).

For a minibatch of m architectures with rewards R_k the controller ascends

    grad J ~= 1/m sum_k sum_t grad log P(a_t | a_1:t-1) (R_k - b)

with Adam (lr 6e-4 for the CIFAR-10 search, 5e-4 for PTB). The baseline b is an
exponential moving average of past rewards, kept in reward units. The paper gives no
decay; the default 0.95 per reward (an average over the last ~20 children, a few
minibatches of 8) follows the rewards as the policy improves without lagging a whole
search behind; ENAS uses 0.99-0.999 with one child per step. b starts at the mean reward
of the first minibatch so the first step is centred. Order per minibatch: advantages use
the baseline from before the minibatch, then b absorbs each of its rewards in turn.

Not from the paper, off by default (ENAS-era stabilisers): an entropy bonus, logit
temperature, a tanh logit constant and gradient-norm clipping.
"""

from __future__ import annotations

from typing import Any

import torch

from nasrl.search.controller import Controller, actions_to_rows, rows_to_actions
from nasrl.settings.search import ReinforceConfig  # the ``search.controller`` section
from nasrl.spaces import SearchSpace
from nasrl.spaces.steps import Action, Step
from nasrl.search.base import SearchStrategy, derived_seed


PAPER_LR = {"cnn": 6e-4, "rnn_cell": 5e-4}  # controller Adam learning rates, Sec. 4.1 and 4.2


class ReinforceSearch(SearchStrategy):
    """The paper's search: an LSTM controller trained with REINFORCE."""

    name = "reinforce"

    def __init__(self, space: SearchSpace, seed: int = 0, config: dict[str, Any] | None = None):
        super().__init__(space, seed)
        self.config = ReinforceConfig.from_dict(config)
        if self.config.lr is None:
            self.config.lr = PAPER_LR.get(space.type, PAPER_LR["cnn"])
        c = self.config
        with torch.random.fork_rng(devices=[]):  # initial weights depend on the seed only
            torch.manual_seed(derived_seed("init", self.seed))
            self.controller = Controller(
                space.decision_kinds(), c.hidden_size, c.num_layers, c.init_range, c.temperature, c.tanh_constant
            )
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=c.lr)
        self.baseline: float | None = None

    def config_dict(self) -> dict[str, Any]:
        return self.config.to_dict()

    def _sample(self, steps: list[Step], m: int, generator: torch.Generator) -> list[list[Action]]:
        with torch.no_grad():
            taken, _, _ = self.controller(steps, m, generator=generator)
        return actions_to_rows(steps, taken)

    def sample(self, m: int) -> tuple[list[dict[str, Any]], torch.Tensor, torch.Tensor]:
        """Like ``ask``, with each architecture's summed log-probability and entropy."""
        archs = self.ask(m)
        with torch.no_grad():
            log_prob, entropy = self.score(archs)
        return archs, log_prob, entropy

    def score(self, archs: list[dict[str, Any]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability and entropy of each architecture under the current policy.

        Architectures with different step sequences (depths) are scored in separate
        batches; the result keeps the input order.
        """
        encoded = [self.space.encode(a) for a in archs]
        groups: dict[tuple, list[int]] = {}
        for i, (steps, _) in enumerate(encoded):
            groups.setdefault(tuple(steps), []).append(i)
        log_prob = [None] * len(archs)
        entropy = [None] * len(archs)
        for steps_key, idx in groups.items():
            steps = list(steps_key)
            actions = rows_to_actions(steps, [encoded[i][1] for i in idx])
            _, lp, ent = self.controller(steps, len(idx), actions=actions)
            for j, i in enumerate(idx):
                log_prob[i], entropy[i] = lp[j], ent[j]
        return torch.stack(log_prob), torch.stack(entropy)

    def _update(self, archs: list[dict[str, Any]], rewards: torch.Tensor,
                sampler: "ReinforceSearch | None" = None) -> dict[str, float]:
        c = self.config
        # The policy gradient is taken at the parameters that sampled the batch (for a stale
        # sample, an older controller's) and applied by this controller's optimizer.
        scorer = self if sampler is None or sampler is self else sampler
        log_prob, entropy = scorer.score(archs)
        baseline = float(rewards.mean()) if self.baseline is None else self.baseline
        advantage = (rewards - baseline).float()
        loss = -(advantage * log_prob).mean() - c.entropy_weight * entropy.mean()
        self.optimizer.zero_grad()
        if scorer is not self:
            scorer.controller.zero_grad(set_to_none=True)
        loss.backward()
        if scorer is not self:
            for own, taken in zip(self.controller.parameters(), scorer.controller.parameters(), strict=True):
                own.grad = None if taken.grad is None else taken.grad.detach().clone()
        if c.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.controller.parameters(), c.grad_clip)
        self.optimizer.step()
        for r in rewards.tolist():
            baseline = c.baseline_decay * baseline + (1.0 - c.baseline_decay) * r
        self.baseline = baseline
        return {
            "baseline": baseline,
            "loss": float(loss.detach()),
            "entropy": float(entropy.detach().mean()),
            "log_prob": float(log_prob.detach().mean()),
        }

    # --- state ------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "controller": self.controller.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "baseline": self.baseline,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.controller.load_state_dict(state["controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.baseline = state["baseline"]
