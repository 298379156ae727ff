"""Suite-wide pytest set-up: how the tests share the machine's cores.

pyproject.toml runs the suite on two pytest-xdist workers with ``--dist loadfile``: each test file runs whole on one
worker, so a file's module-scoped fixtures (a trained run reused by several tests) are built once. (An earlier
``--dist loadgroup`` with one group per file did not group anything under pytest 9 / xdist 3.8: files were split
over the workers and their module fixtures built once per worker, ~400 worker-seconds of the suite.) The Ray files
may run at the same time as each other on the two workers; their timeouts allow for it (test_ray's worker
start-up timeout is 180 s).
"""
