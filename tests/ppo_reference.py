"""PPO's clipped loss with autograd: the reference the hand-written backward pass is checked against."""

import torch


def autograd_ppo(agent, obs, actions, old, adv, returns, clip, masks=None):
    """``(logp, entropy, ratio, policy loss, value loss, gradient)`` of ``agent``'s clipped objective (value
    coefficient 0.5, no entropy bonus), the gradient left in ``agent.params.param.grad`` and returned as a copy."""
    logp, entropy = agent.net.log_prob_entropy(obs, actions, masks=masks)
    ratio = (logp - old).exp()
    pg = -torch.min(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv).mean()
    v = ((agent.net.value(obs) - returns) ** 2).mean()
    agent.params.zero_grad()
    (pg + 0.5 * v).backward()
    return logp, entropy, ratio, pg, v, agent.params.param.grad.clone()
