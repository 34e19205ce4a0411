"""Settings of one child's training (the ``child`` section), with the paper's defaults where it gives them.

Zoph & Le (2017) Sec. 4.1 trains every CIFAR-10 child for 50 epochs with SGD, Nesterov
momentum 0.9, learning rate 0.1 and weight decay 1e-4 ("as in DenseNet"). The paper does not
give the batch size or learning-rate schedule; we take DenseNet's (Huang et al. 2017):
batch 64, learning rate divided by 10 at 50% and 75% of training. For language models
(Sec. 4.2) the paper only says the non-cell hyperparameters were fixed; the defaults of the
``language_model`` section follow the "medium" model of Zaremba et al. (2014) it compares to
(SGD lr 1, gradient norm clipped at 5, dropout 0.5, BPTT 35), scaled down in size.

Runtime settings (``ChildConfig.RUNTIME_KEYS``: accelerator, threads, compile, per_gpu and the size
limits max_params, max_memory_gb) say where a child runs, not what it learns: they are left out of the
child key, and the workflow hands them to the jobs in a file of their own
(``settings/runtime.yaml``) so that changing them retrains nothing. The two limits belong there because they describe the
machine: a child over them is recorded as ``too_large`` without being built
(nasrl.training.limits), and a child recorded so is kept, like any failed child, when the
limits are raised later (delete its folder to train it again).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import yaml
from pydantic import Field, NonNegativeFloat, PositiveFloat, field_validator, model_validator

from nasrl.architecture import ArchitectureError, content_key, read_input
from nasrl.errors import SettingsError
from nasrl.settings.base import Count, Fraction, Section, UnitFloat
from nasrl.settings.choices import Accelerator, Precision
from nasrl.settings.datasets import DatasetValue
from nasrl.tables import table_path


class OptimizerConfig(Section):
    SECTION = "child.optimizer"

    lr: PositiveFloat = 0.1  # Sec. 4.1
    momentum: NonNegativeFloat = 0.9  # Sec. 4.1: Nesterov momentum 0.9
    nesterov: bool = True
    weight_decay: NonNegativeFloat = 1e-4  # Sec. 4.1, "as in DenseNet"


class LanguageModelConfig(Section):
    """The non-cell part of a language model (Sec. 4.2): Zaremba et al.'s medium model, smaller."""

    SECTION = "child.language_model"

    embedding_size: Count = 200
    hidden_size: Count = 200
    dropout: Fraction = 0.5  # Zaremba et al. (2014), medium model
    embedding_dropout: Fraction = 0.1
    tie_weights: bool = False
    bptt: Count = 35  # Zaremba et al. (2014), medium model
    # Sec. 7.1/7.4: Gal & Ghahramani's variational dropout; this rate masks h_{t-1} in the recurrence.
    recurrent_dropout: Fraction = 0.0
    init_range: PositiveFloat | None = None  # every weight uniform in [-r, r] (Zaremba et al.); None: layer defaults
    # Sec. 7.4: the character model trains with Adam; "sgd" uses child.optimizer's momentum and Nesterov.
    optimizer: Literal["sgd", "adam"] = "sgd"


class CostConfig(Section):
    """A cost-aware reward, MnasNet's (Tan et al. 2019, Sec. 3): the paper's reward times a factor
    (cost / target) ** weight, raised to the reward's power (nasrl.training.cost).

    ``measure``: params (the trained network's parameters), flops (its forward pass for one
    example, counted by torch's FlopCounterMode; a surrogate's from its table's flops column) or
    latency_ms (measured in the child's own job on its device: the median of ``passes`` timed
    forward passes of a batch of ``batch_size`` after ``warmup`` untimed ones). ``weight``: None is
    MnasNet's soft constraint, -0.07, or with ``hard`` their hard one, -1 (alpha = 0, beta = -1):
    a hard constraint leaves a child within the target unpenalised and scales only those above.
    """

    SECTION = "child.reward.cost"

    measure: Literal["params", "flops", "latency_ms"]
    target: float  # > 0, checked below so the line names what is wrong
    weight: float | None = None  # None: -0.07 soft (MnasNet Sec. 3), -1 hard
    hard: bool = False
    batch_size: Count = 1  # latency_ms only: MnasNet times single images on a phone
    passes: Count = 50  # latency_ms only: timed forward passes, their median is the latency
    warmup: Count = 10  # latency_ms only: untimed passes first (cuDNN autotuning, caches)

    @model_validator(mode="after")
    def _sound(self) -> Self:
        if not self.target > 0:
            raise ValueError(f"child.reward.cost.target: expected a {self.measure} budget > 0, got {self.target:g}")
        if self.hard and self.weight is not None and self.weight > 0:
            raise ValueError(f"child.reward.cost.weight: a hard constraint penalises children above the target, "
                             f"so expected a weight <= 0 (or null for -1), got {self.weight:g}")
        return self

    @property
    def exponent(self) -> float:
        """The weight in use: the given one, else MnasNet's -0.07 (soft) or -1 (hard)."""
        return self.weight if self.weight is not None else (-1.0 if self.hard else -0.07)


class RewardConfig(Section):
    """The reward from a child's validation curve (Sec. 4.1 and 4.2; nasrl.training.rewards)."""

    SECTION = "child.reward"

    last_epochs: Count = 5  # Sec. 4.1: the last 5 of 50 epochs
    power: float | None = None  # None: 3 for accuracy (Sec. 4.1), 2 for perplexity (Sec. 4.2)
    c: float = 80.0  # Sec. 4.2: "c is a constant, usually set at 80"
    cost: CostConfig | None = None  # None: the paper's reward, blind to cost


class SurrogateConfig(Section):
    """A surrogate child: its reward looked up in a published table, its training time simulated.

    reward = (table[reward_column] * reward_scale) ** reward_power (defaults: a percentage
    accuracy turned into the paper's CIFAR-10 reward, accuracy cubed); the job then sleeps
    seconds_per_unit * table[seconds_column] (say, FLOPs), times a log-normal factor of
    spread ``seconds_jitter`` drawn from the child key (deterministic), so durations vary as
    real children's do. The row is found by ``key_template`` filled with a tabular
    architecture's decisions, or, without a template, by the architecture's content key.
    """

    SECTION = "child.surrogate"

    table: str | None = None
    key_column: str = "arch"
    key_template: str | None = None
    reward_column: str = "reward"
    reward_scale: float = 0.01
    reward_power: float = 3.0
    seconds_column: str | None = None
    seconds_per_unit: NonNegativeFloat = 0.0
    seconds_jitter: NonNegativeFloat = 0.0

    @field_validator("table")
    @classmethod
    def _shipped_table(cls, value: str | None) -> str | None:
        """A ``nasrl:`` name must name a table that ships (nasrl.tables), checked when the
        workflow plans; the name is kept, not the file it resolves to (the child key stays put)."""
        if value is not None:
            table_path(value)
        return value


class EarlyStoppingConfig(Section):
    """The median stopping rule (Golovin et al. 2017, Vizier; Katib's medianstop): a child whose
    best validation metric so far, at the end of epoch e, is worse than the ``quantile`` of the
    earlier rounds' children at the same epoch stops there (nasrl.training.early_stopping).

    Off by default, so the paper presets train every child fully as the paper does. The
    defaults when on: the median (Vizier's rule as published); ``min_epochs`` 1, since the
    rule compares children at the same epoch under the same schedule, so a child is ranked
    against like-for-like values from its first validation on, and the learning rate is
    constant until half the epochs (DenseNet's schedule), where early ranks carry over;
    ``min_reference`` 3, Katib's ``min_trials_required``: a median of fewer values is one
    child's value.
    """

    SECTION = "child.early_stopping"

    enabled: bool = False
    quantile: float = Field(default=0.5, gt=0, lt=1)  # the fraction of reference children a child must beat
    min_epochs: Count = 1  # epochs every child trains before it can be stopped; < child.epochs (ChildConfig)
    min_reference: Count = 3  # reference children that reached an epoch before any child stops there


class ChildConfig(Section):
    SECTION = "child"
    # Where the child runs, not what it learns: outside the child key (see the module docstring).
    RUNTIME_KEYS: ClassVar[tuple[str, ...]] = ("accelerator", "threads", "max_params", "max_memory_gb", "compile",
                                               "per_gpu", "surrogate_timing_seed")

    # cifar10 | digits | ptb | ptb_char | a built-in text corpus (settings/choices.py), or data of
    # one's own: a mapping with a type (image_folder, arrays, text, module; settings/datasets.py)
    dataset: DatasetValue = "digits"
    data_dir: str | None = None  # folder holding the raw dataset files (CIFAR-10, PTB)
    seed: int = 0
    epochs: Count = 50  # Sec. 4.1
    batch_size: Count = 64  # DenseNet
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    lr_decay_at: list[UnitFloat] = Field(default_factory=lambda: [0.5, 0.75])  # DenseNet; fractions of the epochs
    lr_decay_factor: PositiveFloat = 0.1  # DenseNet: divided by 10
    grad_clip: PositiveFloat | None = None
    bn_eps: PositiveFloat = 1e-5
    augment: bool | None = None  # pad-4 crop + flip on image training batches; None = dataset default
    reward: RewardConfig = Field(default_factory=RewardConfig)
    failure_reward: float = 0.0  # reward of a child that fails or diverges
    language_model: LanguageModelConfig = Field(default_factory=LanguageModelConfig)
    accelerator: Accelerator = "auto"  # Lightning accelerator: cpu, gpu, auto ... (runtime)
    # None: "bf16-mixed" on a CUDA GPU with native bf16, else "32-true" (nasrl.training.device).
    precision: Precision | None = None
    channels_last: bool = True  # faster convolutions on CPU and tensor cores
    compile: bool = False  # torch.compile the network (runtime); compiling counts in the child's seconds
    threads: Count | None = None  # torch CPU threads; None = torch's default (runtime)
    # Children sharing one GPU on a machine without SLURM (runtime): each leases one of per_gpu
    # slots of a device (nasrl.training.gpu_lease); snakemake --resources gpu=N sets how many run.
    per_gpu: Count = 1
    # The largest child trained (runtime): 1e9 parameters are 4 GB of float32 weights, 27 times the
    # paper's largest network (37.4M, Table 1), so no searched child reaches it. None: no limit.
    max_params: Count | None = 1_000_000_000
    # The estimated training memory a child may need (runtime); None: the device's memory (a
    # GPU's total memory, else the RAM the process may use: physical RAM or its cgroup's limit).
    max_memory_gb: PositiveFloat | None = None
    limit_train_batches: Count | None = None  # cap batches per epoch (quick runs and tests)
    surrogate: SurrogateConfig | None = None  # reward from a table instead of training (scheduler tests)
    # A surrogate's duration spread is drawn from its child key; a seed here draws it from (key, seed)
    # instead (runtime: the same rewards at other timings, e.g. another order of async updates).
    surrogate_timing_seed: int | None = None
    # Part of the child key: a child trained with stopping is not reused by a search without it.
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)

    @model_validator(mode="after")
    def _stopping_fits(self) -> Self:
        """A surrogate has no network to time (a cost in latency_ms). The median stopping rule
        needs an epoch to stop after (min_epochs < epochs) and a learning curve, which a surrogate
        child has not."""
        cost = self.reward.cost
        if cost is not None and cost.measure == "latency_ms" and self.surrogate is not None:
            raise ValueError("child.reward.cost.measure: surrogate children have no network to time; expected "
                             "params or flops (columns of the table) with child.surrogate, got 'latency_ms'")
        stopping = self.early_stopping
        if not stopping.enabled:
            return self
        if self.surrogate is not None:
            raise ValueError("child.early_stopping.enabled: surrogate children have no learning curve to stop; "
                             "expected false with child.surrogate")
        if self.epochs < 2:
            raise ValueError(f"child.early_stopping.enabled: a child of {self.epochs} epoch cannot stop early; "
                             "expected false, or child.epochs >= 2")
        if stopping.min_epochs >= self.epochs:
            raise ValueError(f"child.early_stopping.min_epochs: expected an integer in [1, {self.epochs - 1}] "
                             f"(below child.epochs = {self.epochs}), got {stopping.min_epochs}")
        return self

    def result_dict(self) -> dict[str, Any]:
        """Every setting that can change the child's result: all but the runtime keys. Early
        stopping enters only when on, and a cost-aware reward only when set, so turning either on
        trains new children while the keys of searches without them stay what they were before
        the setting existed."""
        exclude: dict[str, Any] = {key: True for key in self.RUNTIME_KEYS}
        if not self.early_stopping.enabled:
            exclude["early_stopping"] = True
        if self.reward.cost is None:  # likewise a cost-aware reward (child.reward.cost)
            exclude["reward"] = {"cost": True}
        return self.model_dump(exclude=exclude)

    def runtime_dict(self) -> dict[str, Any]:
        return self.model_dump(include=set(self.RUNTIME_KEYS))


def child_key(arch: dict[str, Any], config: ChildConfig) -> str:
    """Content key of a child result: architecture + the settings that change it (dataset and
    seed included; not where it runs).

    Kept away from the training code, so that sampling can key children without importing
    Lightning.
    """
    return content_key({"arch": arch, "child": config.result_dict()})


def load_child_config(path: str | Path, runtime: str | Path | None = None) -> ChildConfig:
    """Read the ``child`` section of a YAML config (or the whole file when it has none).

    ``runtime``: a YAML file of runtime keys only (the workflow's ``settings/runtime.yaml``),
    which override the config's.
    """
    section = _read_mapping(path, "config file")
    section = section.get("child", section) if isinstance(section, dict) else section
    where = str(path)
    if runtime is not None:
        extra = _read_mapping(runtime, "runtime settings file")
        unknown = sorted(set(extra) - set(ChildConfig.RUNTIME_KEYS)) if isinstance(extra, dict) else ["(not a mapping)"]
        if unknown:
            raise SettingsError(f"{runtime}: unknown key {unknown[0]!r}; expected one of {list(ChildConfig.RUNTIME_KEYS)}")
        section = {**section, **extra} if isinstance(section, dict) else section
        where = f"{path} + {runtime}"
    try:
        return ChildConfig.from_dict(section)
    except ValueError as err:
        raise SettingsError(f"{where}: {err}") from None


def _read_mapping(path: str | Path, what: str) -> Any:
    path = Path(path)
    if not path.exists():
        raise SettingsError(f"{what} not found: {path}")
    try:
        text = read_input(path, what.removesuffix(" file"))  # capped: a wrong path such as /dev/zero is one error line
    except ArchitectureError as err:
        raise SettingsError(str(err)) from None
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise SettingsError(f"{what} {path} is not valid YAML: {' '.join(str(err).split())}") from None
    except RecursionError:  # the YAML composer recurses per level of nesting
        raise SettingsError(f"{what} {path} nests lists or mappings too deeply to read") from None
