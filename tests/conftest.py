"""Suite-wide pytest set-up: how the tests share the machine's cores.

pyproject.toml runs the suite on two pytest-xdist workers with ``--dist loadfile``: each test file runs whole on one
worker, so a file's module-scoped fixtures (a trained run reused by several tests) are built once. (An earlier
``--dist loadgroup`` with one group per file did not group anything under pytest 9 / xdist 3.8: files were split
over the workers and their module fixtures built once per worker, ~400 worker-seconds of the suite.) The Ray files
may run at the same time as each other on the two workers; their timeouts allow for it (test_ray's worker
start-up timeout is 180 s).
"""

from __future__ import annotations

import pytest

# The files that take longest (seconds on 2 workers, measured 2026-11-27), run first: with
# --no-loadscope-reorder (pyproject.toml) xdist hands out files in collection order (by default it sorts them by
# test count, which put test_learning's 5 long tests last), and a long file started last is the suite's tail.
LONG_FIRST = (
    "test_ray_multinode", "test_learning", "test_api", "test_tune", "test_ray", "test_export_formats",
    "test_resume", "test_run_safety", "test_benchmark", "test_recurrent_training",
)  # fmt: skip


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long files first; within a file, the order stays as written (a stable sort)."""
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(LONG_FIRST)))
