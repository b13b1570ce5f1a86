"""The gradient of DQN's regression loss through a ReLU ``Mlp``, written out by hand.

For a minibatch (s, a, y) and the network's layers ``z_i = h_{i-1} W_i^T + b_i``, ``h_i = relu(z_i)``
(no ReLU on the last layer, whose output is Q(s, .)):

    loss     = mean(huber(Q(s, a) - y))            or mean((Q(s, a) - y)^2)
    dQ(s, a) = clamp(Q(s, a) - y, -1, 1) / n       or 2 (Q(s, a) - y) / n       (zero for other actions)
    dW_i     = dz_i^T h_{i-1}      db_i = sum over rows of dz_i
    dz_{i-1} = (dz_i W_i) * [h_{i-1} > 0]

Autograd builds and walks a graph for this on every step; on a 64-wide MLP that bookkeeping costs
more than the arithmetic. These are the same operations autograd runs, in the same order and
layout, so the gradients are bit-identical to ``loss.backward()`` (tests/test_algorithms.py checks).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .common import Mlp


@torch.no_grad()
def q_regression_backward(net: Mlp, obs: torch.Tensor, actions: torch.Tensor, targets: torch.Tensor,
                          huber: bool = True) -> torch.Tensor:
    """Write d loss / d parameter into every parameter's ``.grad`` (overwriting it) and return the loss.

    ``net``: an ``Mlp`` with ReLU between layers; ``actions``: shape (n, 1), int64; ``targets``: shape (n,).
    """
    layers = net._plan
    if any(act is not torch.relu for _, _, act in layers[:-1]):
        raise ValueError("q_regression_backward needs an Mlp with ReLU activations")
    inputs = []  # each layer's input, kept for its weight gradient
    h = obs
    for weight, bias, act in layers:
        inputs.append(h)
        h = torch.addmm(bias, h, weight.t())
        if act is not None:
            h = torch.relu(h)
    q_taken = h.gather(1, actions).squeeze(1)
    diff = q_taken - targets
    n = len(targets)
    if huber:
        loss = F.smooth_l1_loss(q_taken, targets)
        grad_taken = diff.clamp(-1.0, 1.0) * (1.0 / n)
    else:
        loss = F.mse_loss(q_taken, targets)
        grad_taken = diff * (2.0 / n)
    dz = torch.zeros_like(h).scatter_(1, actions, grad_taken.unsqueeze(1))
    for i in range(len(layers) - 1, -1, -1):
        weight, bias, _ = layers[i]
        torch.mm(dz.t(), inputs[i], out=weight.grad)
        torch.sum(dz, 0, out=bias.grad)
        if i:
            dz = torch.where(inputs[i] > 0, torch.mm(dz, weight), 0.0)
    return loss
