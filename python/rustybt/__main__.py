"""``python -m rustybt``: the command line."""

import sys

from rustybt.cli import main

sys.exit(main())
