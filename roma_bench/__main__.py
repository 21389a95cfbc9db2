import sys

from roma_bench.cli import main

sys.exit(main())
