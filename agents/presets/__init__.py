"""Per-algorithm YAML presets (RL-Zoo style): env id → config field values; ``default`` for other envs."""
