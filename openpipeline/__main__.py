"""``python -m openpipeline`` runs the CLI."""

import sys

from openpipeline.cli import main

sys.exit(main())
