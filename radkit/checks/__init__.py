"""The exercises of each notebook: ``from radkit.checks.nb00 import q1``."""
