"""Evaluate a run's checkpoint on its environment: the installed ``tfpg-evaluate``, runnable from a checkout.

The code is ``agents/cli/evaluate.py``; ``python scripts/evaluate.py --help`` lists the options.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from agents.cli.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
