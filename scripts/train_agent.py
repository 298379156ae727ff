"""Train an agent, or continue one with --resume RUN_DIR: the installed ``tfpg-train``, from a checkout.

The code is ``agents/cli/train.py``; ``python scripts/train_agent.py --help`` lists the options.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from agents.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
