"""Plot mean ± std learning curves of runs: the installed ``tfpg-plot``, runnable from a checkout.

The code is ``agents/cli/plot.py``; ``python scripts/plot_runs.py --help`` lists the options.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from agents.cli.plot import main

if __name__ == "__main__":
    sys.exit(main())
