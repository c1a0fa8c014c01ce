"""`python -m facmon.cli`."""

import sys

from facmon.cli import main

sys.exit(main())
