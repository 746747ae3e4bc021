"""hyperwatt: how hyperparameters change the energy and results of deep-learning training."""

__version__ = "0.1.0"
