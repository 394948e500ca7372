"""``python -m seqexp.inspect ckpt=... text="..."``: a trained encoder's units and gates, token by token
(seqexp.tools.inspect)."""

import sys

from seqexp.tools.inspect import main

if __name__ == "__main__":
    sys.exit(main())
