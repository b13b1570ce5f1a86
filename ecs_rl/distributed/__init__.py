"""Many worlds, many machines: esper worlds in Ray workers feeding one learner (``pip install 'ecs-rl[ray]'``).

>>> from ecs_rl.distributed import train
>>> result = train("foragers", session, workers=2, evaluation=Evaluation(game.eval_factory, every=5_000))

Importing this package does not import Ray; ``train`` does, when called.
"""

from .learner import DistributedResult, train
from .worker import Chunk, WorldWorker

__all__ = ["Chunk", "DistributedResult", "WorldWorker", "train"]
