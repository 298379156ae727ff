"""The commands users run, installed as ``tfpg-train``, ``tfpg-evaluate``, ``tfpg-export``, ``tfpg-plot`` and
``tfpg-tune`` (``[project.scripts]`` in pyproject.toml); ``scripts/*.py`` run the same ``main`` from a checkout.

Each module parses its arguments without importing TensorFlow (so ``--help`` is instant), then imports the
package's run machinery. Bad input exits with code 2 and a one-paragraph error.
"""

import sys


def error(message: object, code: int = 2) -> int:
    """Print ``error: <message>`` to stderr and return the exit code (2: bad input, nothing written)."""
    print(f"error: {message}", file=sys.stderr)
    return code
