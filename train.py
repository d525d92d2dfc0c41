"""Train a model: `python train.py --help` (the same as the `vae-train` console script).

The command line lives in explorer/cli/train.py; this file keeps `python train.py ...` working from a checkout.
"""

import sys

from explorer.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
