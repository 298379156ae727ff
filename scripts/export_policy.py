"""Export a run's policy as a TensorFlow SavedModel: the installed ``tfpg-export``, runnable from a checkout.

The code is ``agents/cli/export.py``; ``python scripts/export_policy.py --help`` lists the options.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from agents.cli.export import main

if __name__ == "__main__":
    sys.exit(main())
