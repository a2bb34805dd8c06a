"""``python -m rustybt``: the command line."""

import sys

from rustybt.app.cli import main

sys.exit(main())
