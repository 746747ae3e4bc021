"""Built-in training workloads that run offline: `python -m hyperwatt.workloads.<module> --epochs ...`.

Modules: `mnist`, `mnist_rnn`, `mnist_ff`, `siamese` (examples/*), `resnet_cifar --arch resnet20|32|44|56`,
`reid --arch densenet121|hrnet18|pcb`, `vulberta --head mlp|cnn`. `builtin.toml` declares them for the
registry. Importing this package imports neither torch nor the rest of hyperwatt; the workload
modules import only `hyperwatt.metricsfile` from outside this package.
"""

BUILTIN_FILE = "builtin.toml"

__all__ = ["BUILTIN_FILE"]
