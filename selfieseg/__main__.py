import sys

from selfieseg.cli import main

sys.exit(main())
