"""The models behind the workloads: architecture facts from their papers, shapes, and what the flags change."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hyperwatt.workloads import mnist, mnist_ff, resnet_cifar, siamese, vulberta
from hyperwatt.workloads.hrnet import FEATURES, HRNetW18
from hyperwatt.workloads.reid import PARTS, build


def _weighted_layers(model: nn.Module) -> int:
    return sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules())


@pytest.mark.parametrize("arch, depth", [("resnet20", 20), ("resnet32", 32), ("resnet44", 44), ("resnet56", 56)])
def test_cifar_resnets_have_6n_plus_2_layers_and_no_projection_shortcuts(arch: str, depth: int) -> None:
    model = resnet_cifar.CifarResNet(resnet_cifar.BLOCKS[arch])
    assert _weighted_layers(model) == depth
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_resnet20_parameter_count_matches_the_paper() -> None:
    params = sum(p.numel() for p in resnet_cifar.CifarResNet(3).parameters())
    assert 0.26e6 < params < 0.28e6  # He et al. table 6: 0.27M


def test_option_a_shortcut_subsamples_and_zero_pads_channels() -> None:
    block = resnet_cifar.BasicBlock(16, 32, stride=2)
    x = torch.randn(1, 16, 8, 8)
    short = block.shortcut(x)
    assert short.shape == (1, 32, 4, 4)
    assert torch.equal(short[:, 8:24], x[:, :, ::2, ::2])
    assert short[:, :8].abs().sum() == 0 and short[:, 24:].abs().sum() == 0


def test_learning_rate_drops_at_half_and_three_quarters() -> None:
    assert resnet_cifar.milestones(200) == [100, 150]
    assert resnet_cifar.milestones(1) == [1]


def test_hrnet_w18_size_and_output() -> None:
    model = HRNetW18()
    params = sum(p.numel() for p in model.parameters())
    # HRNet-W18-C has 21.3M parameters with its 2048x1000 classifier
    assert abs(params + FEATURES * 1000 + 1000 - 21.3e6) < 0.1e6
    model.eval()
    assert model(torch.zeros(1, 3, 64, 32)).shape == (1, FEATURES)
    assert len(model.stages[-1][0].branches) == 4


@pytest.mark.slow  # full-size DenseNet-121 / HRNet-W18 / PCB networks built and run: up to 20 s each on 2 cores
@pytest.mark.parametrize("arch", ["densenet121", "hrnet18", "pcb"])
def test_reid_models_give_identity_logits_and_unit_features(arch: str) -> None:
    model = build(arch, classes=7, dropout=0.5)
    x = torch.randn(2, 3, 96, 48)
    outputs = model(x)
    assert len(outputs) == (PARTS if arch == "pcb" else 1)
    assert all(o.shape == (2, 7) for o in outputs)
    model.eval()
    features = model.embed(x)
    assert features.shape == (2, {"densenet121": 512, "hrnet18": 512, "pcb": 2048 * PARTS}[arch])


def test_pcb_uses_stride_one_in_its_last_stage() -> None:
    model = build("pcb", classes=3, dropout=0.5)
    assert model.body(torch.zeros(1, 3, 96, 48)).shape[-2:] == (6, 3)


def test_dropout_flag_reaches_the_models() -> None:
    assert mnist.Net(0.4).dropout2.p == 0.4 and mnist.Net(0.4).dropout1.p == 0.2
    assert resnet_cifar.CifarResNet(3, dropout=0.3).dropout.p == 0.3
    assert build("densenet121", 3, 0.35).head.add_block[2].p == 0.35
    assert all(layer.dropout.p == 0.1 for layer in mnist_ff.FFNet(0.1).layers)
    assert any(isinstance(m, nn.Dropout) and m.p == 0.25 for m in siamese.SiameseNet(0.25).modules())
    model = vulberta.Classifier(100, 16, vulberta.ENCODERS["tiny"], "mlp", 0.2)
    assert model.encoder.dropout.p == 0.2 and model.head.dropout.p == 0.2


def test_forward_forward_overlay_and_prediction() -> None:
    x = torch.rand(4, 1, 28, 28)
    labelled = mnist_ff.overlay(x, torch.tensor([0, 3, 9, 3]))
    assert labelled.shape == (4, 784)
    assert labelled[1, 3] == x.max() and labelled[1, :3].sum() == 0 and labelled[2, 9] == x.max()
    assert torch.equal(labelled[:, 10:], x.flatten(1)[:, 10:])
    prediction = mnist_ff.FFNet(0.0).predict(x)
    assert prediction.shape == (4,) and prediction.max() < 10


def test_siamese_pairs_are_half_same_class() -> None:
    labels = torch.arange(1000) % 10
    sampler = siamese.PairSampler(labels, 10)
    idx = torch.arange(1000)
    partner, same = sampler.partners(idx, torch.Generator().manual_seed(0))
    assert torch.equal(labels[partner] == labels[idx], same.bool())
    assert 0.4 < same.mean().item() < 0.6


def test_vulberta_encoder_ignores_padded_positions() -> None:
    torch.manual_seed(0)
    encoder = vulberta.Encoder(50, 8, vulberta.ENCODERS["tiny"], 0.0).eval()
    tokens = torch.tensor([[0, 30, 31, 2, 1, 1, 1, 1]])
    padding = tokens == vulberta.PAD
    other = tokens.clone()
    other[padding] = 40
    with torch.no_grad():
        a, b = encoder(tokens, padding), encoder(other, padding)
    assert torch.allclose(a[:, :4], b[:, :4], atol=1e-6)


@pytest.mark.parametrize("head", ["mlp", "cnn"])
def test_vulberta_classifier_shape_and_roberta_initialisation(head: str) -> None:
    model = vulberta.Classifier(500, 12, vulberta.ENCODERS["tiny"], head, 0.0).eval()
    tokens = torch.tensor([[0, 30, 31, 32, 2, 1, 1, 1, 1, 1, 1, 1]] * 3)
    assert model(tokens).shape == (3, 2)
    weights = model.encoder.tokens.weight
    assert abs(weights[3:].std().item() - vulberta.INIT_STD) < 0.002 and weights[vulberta.PAD].abs().sum() == 0
