"""Register ecs-rl's worlds with Gymnasium. Entry points are strings: nothing heavy is imported here."""

import gymnasium

if "ecs_rl/CartPole-v1" not in gymnasium.registry:
    gymnasium.register(
        id="ecs_rl/CartPole-v1",
        entry_point="ecs_rl.adapters.registration:make_cartpole",
        vector_entry_point="ecs_rl.adapters.registration:make_cartpole_vector",
        reward_threshold=475.0,
    )

if "ecs_rl/Foragers-v0" not in gymnasium.registry:
    gymnasium.register(
        id="ecs_rl/Foragers-v0",
        entry_point="ecs_rl.adapters.registration:make_foragers",
        vector_entry_point="ecs_rl.adapters.registration:make_foragers_vector",
    )
