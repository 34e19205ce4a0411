"""Regularized evolution (aging evolution; Real et al., "Regularized Evolution for Image
Classifier Architecture Search", AAAI 2019, Algorithm 1), behind the same ask/tell interface.

The first P samples of the search are uniform random architectures (random search's
distribution). After that every child is a mutation: S members of the population are drawn
without replacement, the one with the highest reward wins, and one of its decisions is changed
to another value (a categorical decision to another of its choices, a skip connection flipped).
``tell`` appends each child to the population and removes the oldest beyond P: a member dies
of age, not of a bad reward, which is what regularizes the search.

Deterministic as every strategy here: sample i of the search (its offset) is random when
i < P, and its tournament and mutation use the stream of (seed, offset). A round of m
children is m mutations of the sampling state's population; a stale sampler (staleness s)
or several replicas mutate the population they were given, as Real et al.'s asynchronous
workers mutate the population they read. The population (canonical JSON and reward, oldest
first) is part of the one state file.

Defaults (``search.evolution``): P = 20, S = 5, chosen on NAS-Bench-Macro at 100-500
trainings on seeds 1000-1009 (docs/benchmarks.md); Real et al. use P = 100, S = 25 for
20,000 children, where the first 100 random samples are a small part of the budget.
"""

from __future__ import annotations

import json
from typing import Any

import torch

from nasrl.architecture import canonical_json
from nasrl.search.base import SearchStrategy, derived_seed
from nasrl.search.random import uniform_rows
from nasrl.settings.search import EvolutionConfig  # the ``search.evolution`` section
from nasrl.spaces import SearchSpace
from nasrl.spaces.steps import Action, Anchor, Step


class EvolutionSearch(SearchStrategy):
    """Aging evolution: tournament selection of size S in a population of the last P children."""

    name = "evolution"

    def __init__(self, space: SearchSpace, seed: int = 0, config: dict[str, Any] | None = None):
        super().__init__(space, seed)
        self.config = EvolutionConfig.from_dict(config)
        self.population: list[tuple[str, float]] = []  # (canonical arch JSON, reward), oldest first

    def config_dict(self) -> dict[str, Any]:
        return self.config.to_dict()

    def ask(self, m: int, offset: int | None = None) -> list[dict[str, Any]]:
        """``m`` children: random while the search has seen fewer than P samples (or the
        population is empty), then tournament winners with one decision mutated."""
        if m < 1:
            raise ValueError(f"ask: m must be >= 1, got {m}")
        offset = self.samples_seen if offset is None else int(offset)
        steps = self.space.steps(offset)
        generator = torch.Generator().manual_seed(derived_seed("sample", self.seed, offset))
        n_random = m if not self.population else min(m, max(0, self.config.population - offset))
        rows = uniform_rows(steps, n_random, generator) if n_random else []
        rows += [self._mutate(steps, self._tournament(generator), generator) for _ in range(m - n_random)]
        return [self.space.decode(steps, row) for row in rows]

    def _tournament(self, generator: torch.Generator) -> dict[str, Any]:
        """The best of S members drawn without replacement (ties: the older member)."""
        size = min(self.config.tournament, len(self.population))
        drawn = sorted(torch.randperm(len(self.population), generator=generator)[:size].tolist())
        winner = max(drawn, key=lambda i: self.population[i][1])
        return json.loads(self.population[winner][0])

    def _mutate(self, steps: list[Step], parent: dict[str, Any], generator: torch.Generator) -> list[Action]:
        """The parent's actions with one decision changed.

        A parent sampled at another depth of the schedule keeps every step it shares with
        ``steps`` (same name and options); the others are drawn uniformly, then one decision
        is mutated.
        """
        parent_steps, parent_actions = self.space.encode(parent)
        if list(parent_steps) == list(steps):
            row = list(parent_actions)
        else:
            by_name = {s.name: (s, a) for s, a in zip(parent_steps, parent_actions)}
            fresh = uniform_rows(steps, 1, generator)[0]
            row = [by_name[s.name][1] if s.name in by_name and by_name[s.name][0] == s else fresh[t]
                   for t, s in enumerate(steps)]
        # every decision that can change: a categorical step with 2+ choices, one skip bit
        sites = [(t, None) for t, s in enumerate(steps) if not isinstance(s, Anchor) and len(s.choices) > 1]
        sites += [(t, c) for t, s in enumerate(steps) if isinstance(s, Anchor) for c in range(len(s.candidates))]
        if not sites:
            return row
        t, bit = sites[int(torch.randint(len(sites), (1,), generator=generator))]
        if bit is None:
            other = int(torch.randint(len(steps[t].choices) - 1, (1,), generator=generator))
            row[t] = other + (other >= row[t])  # uniform over the other choices
        else:
            flags = list(row[t])
            flags[bit] = 1 - flags[bit]
            row[t] = tuple(flags)
        return row

    def _sample(self, steps: list[Step], m: int, generator: torch.Generator) -> list[list[Action]]:
        raise NotImplementedError("EvolutionSearch samples through ask(), which needs the offset")

    def _update(self, archs: list[dict[str, Any]], rewards: torch.Tensor, sampler=None) -> dict[str, float]:
        """Every child joins the population; the oldest die beyond P (the sampler is not needed:
        a stale sample joins the newest population, as an asynchronous worker's child does)."""
        for arch, reward in zip(archs, rewards.tolist()):
            self.population.append((canonical_json(arch), float(reward)))
        del self.population[: max(0, len(self.population) - self.config.population)]
        return {"population": float(len(self.population)),
                "population_best": max(r for _, r in self.population)}

    # --- state ------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "population": [[arch, reward] for arch, reward in self.population]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.population = [(str(arch), float(reward)) for arch, reward in state["population"]]
