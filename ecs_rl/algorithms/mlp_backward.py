"""Backward passes written out by hand: DQN's regression loss through a ReLU ``Mlp``, and PPO's
clipped objective through separate actor and critic ``Mlp``s (categorical actions, no entropy bonus).

DQN:

For a minibatch (s, a, y) and the network's layers ``z_i = h_{i-1} W_i^T + b_i``, ``h_i = relu(z_i)``
(no ReLU on the last layer, whose output is Q(s, .)):

    loss     = mean(huber(Q(s, a) - y))            or mean((Q(s, a) - y)^2)
    dQ(s, a) = clamp(Q(s, a) - y, -1, 1) / n       or 2 (Q(s, a) - y) / n       (zero for other actions)
    dW_i     = dz_i^T h_{i-1}      db_i = sum over rows of dz_i
    dz_{i-1} = (dz_i W_i) * [h_{i-1} > 0]

PPO (n rows; ratio = exp(log pi(a|s) - log pi_old(a|s)), A the advantages, R the returns):

    d loss / d ratio   = -A / n where the unclipped term is the smaller (half each where they tie),
                         plus -A / n where the clipped one is and the ratio lies inside the clip range
    d loss / d logits  = log_softmax backward of (d loss / d log pi(a|s)) = (d / d ratio) * ratio
    d loss / d V(s)    = vf_coef * 2 (V(s) - R) / n

Autograd builds and walks a graph for these on every step; on a 64-wide MLP that bookkeeping costs
more than the arithmetic. These are the same operations autograd runs, in the same order and
layout, so the gradients are bit-identical to ``loss.backward()`` (tests/test_algorithms.py checks).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F

from .common import Mlp


_tanh_backward = torch.ops.aten.tanh_backward  # (d output, output): d output * (1 - output^2)
_threshold_backward = torch.ops.aten.threshold_backward  # (d output, output, 0): d output where output > 0, else 0


def _forward(layers, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The MLP's output and each layer's input (kept for the weight gradients)."""
    inputs = []
    for weight, bias, act in layers:
        inputs.append(x)
        x = torch.addmm(bias, x, weight.t())
        if act is not None:
            x = act(x)
    return inputs, x


def _backward(layers, inputs: list[torch.Tensor], dz: torch.Tensor) -> None:
    """From d loss / d output, write every layer's weight and bias gradient into its ``.grad``."""
    for i in range(len(layers) - 1, -1, -1):
        weight, bias, _ = layers[i]
        # computed into fresh tensors, then copied: a kernel's summation order can depend on the
        # alignment of its output, and the gradients are views at any offset of one flat tensor
        weight.grad.copy_(torch.mm(dz.t(), inputs[i]))
        bias.grad.copy_(dz.sum(0))
        if i:
            dh = torch.mm(dz, weight)
            if layers[i - 1][2] is torch.relu:  # autograd's own relu backward (where(h > 0, dh, 0), 10x faster)
                dz = _threshold_backward(dh, inputs[i], 0)
            else:
                dz = _tanh_backward(dh, inputs[i])


def _check_activations(net: Mlp, allowed: tuple, what: str) -> None:
    if any(act not in allowed for _, _, act in net._plan[:-1]):
        raise ValueError(f"{what} needs an Mlp with {' or '.join(a.__name__ for a in allowed)} activations")


@torch.no_grad()
def q_regression_backward(net: Mlp, obs: torch.Tensor, actions: torch.Tensor, targets: torch.Tensor,
                          huber: bool = True) -> torch.Tensor:
    """Write d loss / d parameter into every parameter's ``.grad`` (overwriting it) and return the loss.

    ``net``: an ``Mlp`` with ReLU between layers; ``actions``: shape (n, 1), int64; ``targets``: shape (n,).
    """
    _check_activations(net, (torch.relu,), "q_regression_backward")
    inputs, h = _forward(net._plan, obs)
    q_taken = h.gather(1, actions).squeeze(1)
    diff = q_taken - targets
    n = len(targets)
    if huber:
        loss = F.smooth_l1_loss(q_taken, targets)
        grad_taken = diff.clamp(-1.0, 1.0) * (1.0 / n)
    else:
        loss = F.mse_loss(q_taken, targets)
        grad_taken = diff * (2.0 / n)
    _backward(net._plan, inputs, torch.zeros_like(h).scatter_(1, actions, grad_taken.unsqueeze(1)))
    return loss


class PpoTerms(NamedTuple):
    """Per-row terms of one minibatch's PPO loss, kept for the update's figures (``ppo_figures``), which
    are computed once per update over all its minibatches rather than once per minibatch."""

    log_ratio: torch.Tensor
    ratio: torch.Tensor
    unclipped: torch.Tensor  # ratio * A
    clipped: torch.Tensor  # clip(ratio, 1 - eps, 1 + eps) * A
    value_error: torch.Tensor  # V(s) - R
    log_probs: torch.Tensor | None = None  # categorical actions: log pi(.|s), the entropy's source
    entropy: torch.Tensor | None = None  # otherwise: each row's entropy


def ppo_losses(terms: PpoTerms) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(L_policy, L_value, mean entropy)`` of one minibatch, the same operations as the loss itself."""
    pg_loss = -torch.min(terms.unclipped, terms.clipped).mean()
    v_loss = (terms.value_error**2).mean()
    entropy = terms.entropy if terms.entropy is not None else -(terms.log_probs.exp() * terms.log_probs).sum(-1)
    return pg_loss, v_loss, entropy.mean()


@torch.no_grad()
def ppo_figures(minibatches: Sequence[PpoTerms], clip: float) -> list[float]:
    """Policy loss, value loss, entropy, approx KL and clip fraction: means over every row of the
    update's minibatches (equal to the mean of per-minibatch means when the minibatches are of one size)."""
    terms = PpoTerms(*(None if parts[0] is None else torch.cat(parts) for parts in zip(*minibatches)))
    pg_loss, v_loss, entropy = ppo_losses(terms)
    ratio = terms.ratio
    figures = torch.stack((pg_loss, v_loss, entropy, ((ratio - 1.0) - terms.log_ratio).mean(),
                           ((ratio - 1.0).abs() > clip).float().mean()))
    return figures.tolist()


@torch.no_grad()
def ppo_backward(actor: Mlp, critic: Mlp, obs: torch.Tensor, actions: torch.Tensor, old_logps: torch.Tensor,
                 advantages: torch.Tensor, returns: torch.Tensor, clip: float,
                 vf_coef: float, masks: torch.Tensor | None = None) -> PpoTerms:
    """Write the gradient of ``L_policy + vf_coef * L_value`` into the parameters' ``.grad`` (overwriting it).

    ``actions``: shape (n,), the categorical actions; ``advantages`` as trained on (already normalised);
    ``masks``: the rows' legal actions (masked logits set to the lowest float: probability 0, gradient 0).
    Returns the per-row terms (the losses themselves: ``ppo_losses``); only the gradient is computed here.
    """
    _check_activations(actor, (torch.relu, torch.tanh), "ppo_backward")
    _check_activations(critic, (torch.relu, torch.tanh), "ppo_backward")
    n = len(obs)
    actor_inputs, logits = _forward(actor._plan, obs)
    if masks is not None:
        logits = logits.masked_fill(~masks, torch.finfo(logits.dtype).min)
    log_probs = torch.log_softmax(logits, dim=-1)
    index = actions.long().unsqueeze(1)
    logp = log_probs.gather(1, index).squeeze(1)
    critic_inputs, value = _forward(critic._plan, obs)
    log_ratio = logp - old_logps
    ratio = log_ratio.exp()
    unclipped, clipped = ratio * advantages, ratio.clamp(1.0 - clip, 1.0 + clip) * advantages
    error = value.squeeze(-1) - returns

    grad_min = torch.full_like(ratio, -1.0) / n  # d(-mean)
    tie = unclipped == clipped
    grad_min_half = torch.where(tie, grad_min / 2, grad_min)
    grad_unclipped = grad_min_half.masked_fill(unclipped > clipped, 0.0)
    grad_clipped = grad_min_half.masked_fill(unclipped < clipped, 0.0)
    inside = (ratio >= 1.0 - clip).logical_and_(ratio <= 1.0 + clip)
    grad_ratio = grad_unclipped * advantages + torch.where(inside, grad_clipped * advantages, 0.0)
    grad_logp = grad_ratio * ratio
    grad_log_probs = torch.zeros_like(log_probs).scatter_(1, index, grad_logp.unsqueeze(1))
    grad_logits = torch._log_softmax_backward_data(grad_log_probs, log_probs, -1, log_probs.dtype)
    _backward(actor._plan, actor_inputs, grad_logits)

    grad_value = (torch.full_like(error, vf_coef) / n) * (2.0 * error)
    _backward(critic._plan, critic_inputs, grad_value.unsqueeze(1))
    return PpoTerms(log_ratio, ratio, unclipped, clipped, error, log_probs=log_probs)
