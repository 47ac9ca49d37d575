import sys

from humanlike.cli import main

sys.exit(main())
