"""The learner: algorithm configs and registry (TensorFlow-free), the shared ``LearnerCore``, PPO, A2C, REINFORCE."""
