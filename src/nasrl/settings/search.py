"""The ``search`` section: the space, the strategy, the rounds, the controller's REINFORCE settings
and regularized evolution's population and tournament."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, model_validator

from nasrl.settings.base import Count, Fraction, Section

if TYPE_CHECKING:
    from nasrl.spaces import SearchSpace


UNIQUE_SAMPLES = ("off", "minibatch", "search")


def _unique_samples_mode(value: Any) -> Any:
    """A mode's name, or true or false (minibatch or off). Part of the field's type, not a validator
    of the model, so that ``--config`` text is typed by it too (overrides.py)."""
    if isinstance(value, bool):
        return "minibatch" if value else "off"
    if value not in UNIQUE_SAMPLES:
        raise ValueError(f"expected one of {list(UNIQUE_SAMPLES)} (true: minibatch, false: off), got {value!r}")
    return value


class ReinforceConfig(Section):
    """The controller and its REINFORCE update (Sec. 3.2 and 4.1; nasrl.search.reinforce).

    The defaults are the paper's controller. The small-budget setting (lr 0.02, advantages
    standardized, sampling without repeats across the search, tanh constant 2.5, entropy bonus
    0.1, 2 replay steps clipped at 0.5; docs/benchmarks.md, "Small budgets") is
    config/controller-small-budget.yaml.
    """

    SECTION = "search.controller"

    lr: PositiveFloat | None = None  # Adam; None: the paper's 6e-4 (CNN, Sec. 4.1) or 5e-4 (cells, Sec. 4.2)
    baseline_decay: Fraction = 0.95  # not in the paper; see the nasrl.search.reinforce docstring
    hidden_size: Count = 35  # Sec. 4.1: 2-layer LSTM, 35 units
    num_layers: Count = 2
    init_range: NonNegativeFloat = 0.08  # Sec. 4.1: uniform in [-0.08, 0.08]
    entropy_weight: NonNegativeFloat = 0.0  # not in the paper (ENAS 1e-4); weighs the summed entropy
    temperature: PositiveFloat | None = None  # not in the paper (ENAS 5.0 for PTB): logits / temperature
    tanh_constant: PositiveFloat | None = None  # not in the paper (ENAS 1.5-2.5): logits to C tanh(logits)
    grad_clip: PositiveFloat | None = None  # not in the paper
    # Small-budget options (not in the paper; docs/benchmarks.md has what each did on NAS-Bench-Macro).
    normalize_advantage: bool = False  # divide R - b by the minibatch's reward std
    ppo_epochs: Count = 1  # gradient steps per minibatch (PPO-style; 1 = REINFORCE's one step)
    ppo_clip: PositiveFloat | None = None  # clip the probability ratio to [1 - c, 1 + c] (PPO 0.2); None = off
    # Sampling without repeats: off; minibatch (redraw an architecture already in the minibatch);
    # search (also redraw one already trained: the policy restricted to untrained architectures).
    # true and false, its earlier spelling, mean minibatch and off.
    unique_samples: Annotated[Literal["off", "minibatch", "search"], BeforeValidator(_unique_samples_mode)] = "off"
    # Off-policy replay (nasrl.search.replay): after each update, this many more steps on the clipped
    # importance-weighted surrogate over every child told so far; 0 = off (each child used once).
    replay_steps: NonNegativeInt = 0
    replay_clip: PositiveFloat | None = 0.2  # PPO's clip of the ratio against each child's sampling policy
    replay_until: Count | None = None  # replay only while fewer children than this were told; None: always


class EvolutionConfig(Section):
    """Regularized evolution (Real et al. 2019; nasrl.search.evolution): population and tournament."""

    SECTION = "search.evolution"

    population: Annotated[int, Field(ge=2)] = 20  # P: the first P samples are random; the oldest dies
    tournament: Count = 5  # S: the best of S random members is mutated; 1 <= S <= P

    @model_validator(mode="after")
    def _tournament_fits(self) -> Self:
        if self.tournament > self.population:
            raise ValueError(f"search.evolution.tournament: expected an integer in [1, {self.population}] "
                             f"(at most the population), got {self.tournament}")
        return self


class SearchSettings(Section):
    """What sampling and controller updates need."""

    SECTION = "search"

    space: dict[str, Any] | str  # a spec, a preset name or a YAML path
    strategy: Literal["reinforce", "random", "evolution"] = "reinforce"  # the paper, its control, or Real et al. 2019
    seed: int = 0  # seeds the controller's initial weights and every round's samples
    rounds: Count = 4
    children_per_round: Count = 4  # m, the controller minibatch (8 in the paper, Sec. 4.1)
    replicas: Count = 1  # K: a round samples K x m children and applies K updates (the paper's 100 replicas)
    staleness: NonNegativeInt = 0  # s: round r is sampled from controller r - s (0: synchronous rounds)
    # rounds: K replica batches per round, updates applied in replica order (nasrl.search.rounds);
    # async: each replica's chain samples from the newest controller and its update is applied as its
    # batch ends, in completion order, recorded in results/{experiment}/journal.jsonl (nasrl.search.journal).
    updates: Literal["rounds", "async"] = "rounds"
    replay: str | None = None  # async: a journal.jsonl whose order the search follows, bit for bit
    controller: ReinforceConfig = Field(default_factory=ReinforceConfig)  # used by strategy reinforce only
    evolution: EvolutionConfig = Field(default_factory=EvolutionConfig)  # used by strategy evolution only

    @model_validator(mode="after")
    def _async_order(self) -> Self:
        if self.updates == "async" and self.staleness:
            raise ValueError(f"search.staleness: {self.staleness} with updates async, whose replicas always sample "
                             "from the newest controller; expected staleness 0, or updates rounds")
        if self.replay is not None and self.updates != "async":
            raise ValueError("search.replay: a journal orders asynchronous updates; expected updates async with it")
        return self

    def journal_identity(self) -> dict[str, Any]:
        """What a journal is valid for: every search setting but the journal it replays."""
        return {key: value for key, value in self.to_dict().items() if key != "replay"}

    def build_space(self) -> SearchSpace:
        from nasrl.spaces.presets import resolve_space

        return resolve_space(self.space)

    def strategy_config(self) -> dict[str, Any] | None:
        sections = {"reinforce": self.controller, "evolution": self.evolution}
        return sections[self.strategy].to_dict() if self.strategy in sections else None
