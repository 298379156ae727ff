"""Vector environments for tfpg: ``envs.make`` (construction, seeding), ``envs.wrappers`` (normalization
statistics), ``envs.stats`` (merging them across workers), ``envs.testing``, ``envs.testing_masks`` and
``envs.testing_memory`` (the ``tfpg-test/`` envs, registered when first used). Import from those modules: this
package imports nothing, so light tools stay light."""
