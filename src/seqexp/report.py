"""``python -m seqexp.report DIR [DIR ...] [out=DIR] [metric=M]``: compare finished runs (seqexp.tools.report)."""

import sys

from seqexp.tools.report import main

if __name__ == "__main__":
    sys.exit(main())
