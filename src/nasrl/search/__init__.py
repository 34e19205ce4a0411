"""Search strategies behind one ask/tell interface: the LSTM controller trained with
REINFORCE (the paper), random search (its control), and the tabular bench that measures them
without training. Nothing here knows about networks, training or tracking."""
