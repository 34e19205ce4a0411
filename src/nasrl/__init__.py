"""nasrl: Neural Architecture Search with Reinforcement Learning (Zoph & Le, ICLR 2017)."""

__version__ = "0.1.0"
