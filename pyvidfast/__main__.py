import sys

from pyvidfast.cli import main

sys.exit(main())
