"""Search hyperparameters with Optuna: the installed ``tfpg-tune``, runnable from a checkout.

The code is ``agents/cli/tune.py`` (the study: ``agents/run/tuning.py``); ``python scripts/tune.py --help``
lists the options.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from agents.cli.tune import main

if __name__ == "__main__":
    sys.exit(main())
