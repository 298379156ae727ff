"""The ways tfpg can vectorize an env, importable without Gymnasium (the CLI lists them in ``--help``).

auto                 the env's native vector env when its spec has a ``vector_entry_point``, else sync
sync                 every sub-env in this process, stepped in turn
async                a subprocess per sub-env (for slow envs, when cores are free)
vector_entry_point   the env's own vector implementation (fails if it has none)
"""

VECTORIZATION_MODES = ("auto", "sync", "async", "vector_entry_point")
