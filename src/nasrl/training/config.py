"""Settings of one child's training, with the paper's defaults where it gives them.

Zoph & Le (2017) Sec. 4.1 trains every CIFAR-10 child for 50 epochs with SGD, Nesterov
momentum 0.9, learning rate 0.1 and weight decay 1e-4 ("as in DenseNet"). The paper does not
give the batch size or learning-rate schedule; we take DenseNet's (Huang et al. 2017):
batch 64, learning rate divided by 10 at 50% and 75% of training. For language models
(Sec. 4.2) the paper only says the non-cell hyperparameters were fixed; the defaults of the
``language_model`` section follow the "medium" model of Zaremba et al. (2014) it compares to
(SGD lr 1, gradient norm clipped at 5, dropout 0.5, BPTT 35), scaled down in size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from nasrl.architecture import content_key
from nasrl.training.rewards import RewardConfig


@dataclass
class OptimizerConfig:
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4


@dataclass
class LanguageModelConfig:
    embedding_size: int = 200
    hidden_size: int = 200
    dropout: float = 0.5
    embedding_dropout: float = 0.1
    tie_weights: bool = False
    bptt: int = 35


@dataclass
class SurrogateConfig:
    """A surrogate child: its reward looked up in a published table, its training time simulated.

    reward = (table[reward_column] * reward_scale) ** reward_power (defaults: a percentage
    accuracy turned into the paper's CIFAR-10 reward, accuracy cubed); the job then sleeps
    seconds_per_unit * table[seconds_column] (say, FLOPs), times a log-normal factor of
    spread ``seconds_jitter`` drawn from the child key (deterministic), so durations vary as
    real children's do. The row is found by ``key_template`` filled with a tabular
    architecture's decisions, or, without a template, by the architecture's content key.
    """

    table: str | None = None
    key_column: str = "arch"
    key_template: str | None = None
    reward_column: str = "reward"
    reward_scale: float = 0.01
    reward_power: float = 3.0
    seconds_column: str | None = None
    seconds_per_unit: float = 0.0
    seconds_jitter: float = 0.0


@dataclass
class ChildConfig:
    dataset: str = "digits"  # cifar10 | digits | ptb | ptb_char | a built-in text corpus
    data_dir: str | None = None  # folder holding the raw dataset files (CIFAR-10, PTB)
    seed: int = 0
    epochs: int = 50  # Sec. 4.1
    batch_size: int = 64  # DenseNet
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    lr_decay_at: list[float] = field(default_factory=lambda: [0.5, 0.75])  # fractions of the epochs
    lr_decay_factor: float = 0.1
    grad_clip: float | None = None
    bn_eps: float = 1e-5
    augment: bool | None = None  # pad-4 crop + flip on image training batches; None = dataset default
    reward: RewardConfig = field(default_factory=RewardConfig)
    failure_reward: float = 0.0  # reward of a child that fails or diverges
    language_model: LanguageModelConfig = field(default_factory=LanguageModelConfig)
    accelerator: str = "auto"  # Lightning accelerator: cpu, gpu, auto
    precision: str | None = None  # e.g. "bf16-mixed" on a GPU; None = full precision
    channels_last: bool = True  # faster convolutions on CPU and tensor cores
    threads: int | None = None  # torch CPU threads; None = torch's default
    limit_train_batches: int | None = None  # cap batches per epoch (quick runs and tests)
    surrogate: SurrogateConfig | None = None  # reward from a table instead of training (scheduler tests)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "ChildConfig":
        return _build(cls, values or {}, "child")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


OPTIONAL_SECTIONS = {"surrogate": SurrogateConfig}  # sections that are null unless given


def _build(cls, values: Any, where: str):
    """Build dataclass ``cls`` from a mapping, naming any unknown or mistyped key."""
    if not isinstance(values, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(values).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(known)}")
    kwargs = {}
    defaults = cls()
    for name, value in values.items():
        default = getattr(defaults, name)
        if default is None and name in OPTIONAL_SECTIONS:
            kwargs[name] = None if value is None else _build(OPTIONAL_SECTIONS[name], value, f"{where}.{name}")
            continue
        if is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{where}.{name}")
            continue
        kwargs[name] = _check_type(value, default, f"{where}.{name}")
    return cls(**kwargs)


def _check_type(value: Any, default: Any, where: str) -> Any:
    if value is None or default is None:
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        return float(value)
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
    elif isinstance(default, str) and not isinstance(value, str):
        raise ValueError(f"{where}: expected a string, got {value!r}")
    elif isinstance(default, list) and not isinstance(value, list):
        raise ValueError(f"{where}: expected a list, got {value!r}")
    return value


def child_key(arch: dict[str, Any], config: ChildConfig) -> str:
    """Content key of a child result: architecture + training settings (dataset and seed included).

    Kept here, away from the training code, so that sampling can key children without
    importing Lightning.
    """
    return content_key({"arch": arch, "child": config.to_dict()})


def load_child_config(path: str | Path) -> ChildConfig:
    """Read the ``child`` section of a YAML config (or the whole file when it has none)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ValueError(f"config file not found: {path}") from None
    except yaml.YAMLError as err:
        raise ValueError(f"config file {path} is not valid YAML: {err}") from None
    section = data.get("child", data) if isinstance(data, dict) else data
    try:
        return ChildConfig.from_dict(section)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
