"""tfpg agents: PPO (more to come), their losses, advantages, rollouts and the training loop."""
