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

Not from the paper: ENAS-era stabilisers (an entropy bonus, logit temperature, a tanh logit
constant, gradient-norm clipping) and options measured for searches of a few hundred children
(docs/benchmarks.md, "Small budgets"): advantages standardized within the minibatch, several
clipped gradient steps per minibatch (PPO, Schulman et al. 2017, as DeepHyper's distributed
NAS), sampling without repeats (``unique_samples``) and off-policy replay of every child trained
so far (``replay_steps``, nasrl.search.replay: each child importance-weighted against the
controller that sampled it). All off by default: the defaults
(``search.controller``) are the paper's controller. The small-budget setting
(config/controller-small-budget.yaml) is lr 0.02, standardized advantages, sampling without
repeats across the search, tanh constant 2.5, entropy bonus 0.1 and 2 replay steps clipped at 0.5.

Sampling without repeats changes only which architectures are drawn, never the update: the
gradient is still that of log P(a) under the controller's policy for each drawn architecture.
``minibatch`` redraws an architecture already in the minibatch; ``search`` samples from the
policy restricted to the architectures not trained yet: it also redraws any architecture this
state has been told (rejection sampling, exact for that restricted distribution while the
redraws last), so every child is a new training, a local search around the policy's mode, as
evolution's mutations are. It needs a policy that keeps some mass off its mode: the tanh
constant bounds every logit and the entropy bonus resists the collapse. The told
architectures' content keys are part of the state (sorted, exact resume). A stale sampler
(staleness, replicas) avoids what it was told; a repeat it draws is trained once anyway.
After a bounded number of redraws (a policy collapsed onto trained architectures) the
missing samples are repeats.
"""

from __future__ import annotations

from typing import Any

import torch

from nasrl.architecture import content_key
from nasrl.search.controller import Controller, actions_to_rows, rows_to_actions
from nasrl.search.replay import Archive, clipped_surrogate
from nasrl.settings.search import ReinforceConfig  # the ``search.controller`` section
from nasrl.space_kinds import KINDS
from nasrl.spaces import SearchSpace
from nasrl.spaces.steps import Action, Step
from nasrl.search.base import SearchStrategy, derived_seed


UNIQUE_REDRAWS = 10  # unique_samples: redraws of a minibatch's repeats before repeats are kept
# unique_samples search: each redraw draws at least this many candidates, as a policy near its mode
# may put only a few percent of its mass on architectures not trained yet (cheap: one batched pass).
SEARCH_REDRAW_BATCH = 64


class ReinforceSearch(SearchStrategy):
    """The paper's search: an LSTM controller trained with REINFORCE."""

    name = "reinforce"

    def __init__(self, space: SearchSpace, seed: int = 0, config: dict[str, Any] | None = None):
        super().__init__(space, seed)
        self.config = ReinforceConfig.from_dict(config)
        if self.config.lr is None:
            self.config.lr = KINDS[space.type].controller_lr  # the paper's rate for the kind (Sec. 4.1, 4.2)
        c = self.config
        with torch.random.fork_rng(devices=[]):  # initial weights depend on the seed only
            torch.manual_seed(derived_seed("init", self.seed))
            self.controller = Controller(
                space.decision_kinds(), c.hidden_size, c.num_layers, c.init_range, c.temperature, c.tanh_constant
            )
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=c.lr)
        self.baseline: float | None = None
        self.told: set[str] = set()  # unique_samples search: content keys of the architectures told
        self.archive = Archive()  # replay_steps > 0: every child told, with its sampling log-probability

    def config_dict(self) -> dict[str, Any]:
        return self.config.to_dict()

    def _sample(self, steps: list[Step], m: int, generator: torch.Generator) -> list[list[Action]]:
        with torch.no_grad():
            taken, _, _ = self.controller(steps, m, generator=generator)
            rows = actions_to_rows(steps, taken)
            mode = self.config.unique_samples
            if mode == "off":
                return rows
            # Without repeats: redraw the minibatch's duplicates (and, searching without repeats,
            # the architectures told so far) a bounded number of times; what is still missing is
            # filled with the last draw's repeats.
            known: dict[tuple, bool] = {}  # row -> not told yet (a concentrated policy draws few rows)

            def usable(steps: list[Step], row: list[Action]) -> bool:
                if mode != "search" or not self.told:
                    return True
                if tuple(row) not in known:
                    known[tuple(row)] = content_key(self.space.decode(steps, row)) not in self.told
                return known[tuple(row)]

            batch = SEARCH_REDRAW_BATCH if mode == "search" else 1
            unique = list({tuple(row): row for row in rows if usable(steps, row)}.values())
            repeats = [row for row in rows if row not in unique]
            for _ in range(UNIQUE_REDRAWS):
                if len(unique) == m:
                    break
                taken, _, _ = self.controller(steps, max(m - len(unique), batch), generator=generator)
                drawn = actions_to_rows(steps, taken)
                have = {tuple(row) for row in unique}
                fresh = list({tuple(row): row for row in drawn
                              if tuple(row) not in have and usable(steps, row)}.values())[: m - len(unique)]
                unique += fresh
                repeats = [row for row in drawn if row not in fresh]
            else:
                unique += repeats[: m - len(unique)]
            return unique

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
        if c.replay_steps:  # each child's log-probability under the policy that sampled it, before any step
            with torch.no_grad():
                self.archive.add(archs, rewards, scorer.score(archs)[0])
        baseline = float(rewards.mean()) if self.baseline is None else self.baseline
        advantage = (rewards - baseline).float()
        if c.normalize_advantage:  # mean 0, std 1 within the minibatch (all zero when the rewards tie)
            advantage = advantage - advantage.mean()
            spread = float(advantage.std()) if len(advantage) > 1 else 0.0
            advantage = advantage / spread if spread > 0 else torch.zeros_like(advantage)
        if c.ppo_epochs > 1 or c.ppo_clip is not None:
            loss, log_prob, entropy = self._clipped_steps(archs, advantage, scorer)
        else:
            log_prob, entropy = scorer.score(archs)
            loss = -(advantage * log_prob).mean() - c.entropy_weight * entropy.mean()
            self._step(loss, scorer)
        for r in rewards.tolist():
            baseline = c.baseline_decay * baseline + (1.0 - c.baseline_decay) * r
        self.baseline = baseline
        if c.unique_samples == "search":
            self.told.update(content_key(arch) for arch in archs)
        stats = {
            "baseline": baseline,
            "loss": float(loss.detach()),
            "entropy": float(entropy.detach().mean()),
            "log_prob": float(log_prob.detach().mean()),
        }
        if c.replay_steps and (c.replay_until is None or self.samples_seen < c.replay_until):
            stats["replay_loss"] = self._replay_steps()
        return stats

    def _replay_steps(self) -> float:
        """``replay_steps`` steps on the clipped importance-weighted surrogate over the archive
        (nasrl.search.replay); returns the last step's loss."""
        c = self.config
        advantage, behaviour = self.archive.advantages(), self.archive.behaviour_log_probs()
        for _ in range(c.replay_steps):
            log_prob, entropy = self.score(self.archive.archs)
            loss = -clipped_surrogate(log_prob, behaviour, advantage, c.replay_clip) - c.entropy_weight * entropy.mean()
            self._step(loss, self)
        return float(loss.detach())

    def _clipped_steps(self, archs, advantage, scorer):
        """``ppo_epochs`` steps on the clipped surrogate min(rho A, clip(rho, 1 - c, 1 + c) A),
        rho = P_now(a) / P_sampler(a) (Schulman et al. 2017). The first step's gradient is
        REINFORCE's; with a stale sampler rho is the importance weight of the sample."""
        c = self.config
        with torch.no_grad():
            old_log_prob, _ = scorer.score(archs)
        for _ in range(c.ppo_epochs):
            log_prob, entropy = self.score(archs)
            loss = -clipped_surrogate(log_prob, old_log_prob, advantage, c.ppo_clip) - c.entropy_weight * entropy.mean()
            self._step(loss, self)
        return loss, log_prob, entropy

    def _step(self, loss: torch.Tensor, scorer: "ReinforceSearch") -> None:
        """One optimizer step of this controller with the gradient of ``loss`` taken at ``scorer``."""
        c = self.config
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

    # --- state ------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "controller": self.controller.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "baseline": self.baseline,
            "told": sorted(self.told),  # 16 hex digits per trained architecture: ~0.2 MB for 12,800
            **({"archive": self.archive.state_dict()} if self.config.replay_steps else {}),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.controller.load_state_dict(state["controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.baseline = state["baseline"]
        self.told = set(state.get("told", []))  # absent in a state written before unique_samples search
        self.archive = Archive.from_state(state.get("archive"))  # absent without replay
