"""Child models built from architecture values: the CIFAR-10 CNN and the PTB recurrent cell."""

from nasrl.models.cnn import CnnChild, count_parameters
from nasrl.models.language_model import CellLanguageModel
from nasrl.models.rnn_cell import ACTIVATIONS, COMBINATIONS, TreeCell

__all__ = ["ACTIVATIONS", "COMBINATIONS", "CellLanguageModel", "CnnChild", "TreeCell", "count_parameters"]
