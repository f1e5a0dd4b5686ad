"""``python -m ember ...``: the ``ember`` command line (ember.cli), for environments without the console script."""
import sys

from ember.cli import main

if __name__ == "__main__":
    sys.exit(main())
