import sys

from vilokanam.cli import main

sys.exit(main())
