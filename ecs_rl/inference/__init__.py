"""Run a trained agent without torch: an exported ``.npz`` (numpy only) or ``.onnx`` (onnxruntime) policy.

    from ecs_rl.inference import load_policy
    policy = load_policy("cartpole.npz")        # made by ``ecs-rl export RUN -o cartpole.npz``
    action = policy.act(obs)                    # greedy; ``mask=`` restricts it to legal actions

The policy acts like ``ecs_rl.algorithms.GreedyPolicy`` (same actions, same masks) and the esper
plugin takes it like any frozen policy: ``install({"cartpole": policy}, reset, learning=False)``.
Importing this package imports numpy only; onnxruntime is imported when an ``.onnx`` file is loaded.
"""

from .policy import FORMAT, FORMAT_VERSION, ExportedPolicy, NumpyPolicy, PolicyFileError, load_policy, read_npz
from .onnx_policy import OnnxPolicy

__all__ = ["FORMAT", "FORMAT_VERSION", "ExportedPolicy", "NumpyPolicy", "OnnxPolicy", "PolicyFileError",
           "load_policy", "read_npz"]
