"""tfpg agents, in three wings (docs/ARCHITECTURE.md):

``agents.algorithms``  the learner: PPO, A2C, REINFORCE over a shared ``LearnerCore`` (losses, advantages,
                       optimizers, compiled updates);
``agents.experience``  the actor side: the rollout schema, the policy and its actors, collection in process or
                       on Ray workers, evaluation;
``agents.run``         one run from config to summary: trainer loop, building, checkpoints, run directories,
                       TensorBoard logging, loading and export.
``agents.config`` (run, network and preset configuration) is shared by all three and imports no TensorFlow.
"""
