"""Optional pygame helpers (the only package of ecs-rl that imports pygame)."""
