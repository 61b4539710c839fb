import sys

from perfscan.cli import main

sys.exit(main())
