"""``python -m sklearn_pneumo``: see ``python -m sklearn_pneumo --help``."""

import sys

from ._cli import main

sys.exit(main())
