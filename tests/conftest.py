"""Suite-wide pytest set-up: how the tests share the machine's cores.

pyproject.toml runs the suite on two pytest-xdist workers (``-n 2 --dist loadgroup``). Each test file is one
group, so a file's module-scoped fixtures (a trained run reused by several tests) are built once, on one worker.
The Ray files form a single group: two local Ray clusters starting at once on 2 cores push worker start-up past
the rollout timeouts the tests exercise.
"""

from __future__ import annotations

import pytest

RAY_FILES = ("test_ray", "test_ray_learning", "test_ray_multinode", "test_ray_session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.stem
        item.add_marker(pytest.mark.xdist_group("ray" if module in RAY_FILES else module))
