"""``python -m jaxdl.cli`` runs the ``jaxdl`` command (as ``python -m jaxdl`` does)."""

import sys

from jaxdl.cli import main

sys.exit(main())
