"""`python -m wandb_launch` runs the CLI."""

import sys

from wandb_launch.cli import main

sys.exit(main())
