"""``python -m parallel.cli``: the same command as ``parallel``."""

import sys

from parallel.cli import main

sys.exit(main())
