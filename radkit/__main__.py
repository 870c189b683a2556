"""``python -m radkit doctor`` (or fetch, build-course, cards): the radkit command without the PATH."""

import sys

from radkit.cli import main

sys.exit(main())
