"""Offline data sets of the built-in workloads: real files when given, deterministic synthetic ones otherwise."""

from hyperwatt.workloads.data.augment import Normaliser, affine_copies, random_crop_flip
from hyperwatt.workloads.data.cifar import cifar_images, read_cifar10, synthetic_cifar
from hyperwatt.workloads.data.code_tokens import TokenSet, code_tokens, synthetic_code_tokens, vulnerable
from hyperwatt.workloads.data.digits import digit_images, read_mnist, sklearn_digits, stratified_split
from hyperwatt.workloads.data.imageset import ImageSet, channel_stats
from hyperwatt.workloads.data.persons import ReidSet, person_images, read_market1501, synthetic_persons

__all__ = [
    "ImageSet", "Normaliser", "ReidSet", "TokenSet", "affine_copies", "channel_stats", "cifar_images", "code_tokens",
    "digit_images", "person_images", "random_crop_flip", "read_cifar10", "read_market1501",
    "read_mnist", "sklearn_digits", "stratified_split", "synthetic_cifar", "synthetic_code_tokens",
    "synthetic_persons", "vulnerable",
]
