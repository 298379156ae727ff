"""The actor side: the rollout schema, the policy and its actors, rollout collection (in process, Ray), evaluation."""
