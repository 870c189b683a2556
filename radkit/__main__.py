"""`python -m radkit doctor` works like the `radkit` command."""

import sys

from radkit.cli import main

sys.exit(main())
