"""``python -m scar.cli`` = the ``scar`` command."""

import sys

from scar.cli.main import main

sys.exit(main())
