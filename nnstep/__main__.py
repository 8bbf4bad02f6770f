"""``python -m nnstep …`` does what the ``nnstep`` command does."""

import sys

from nnstep.tui.launch import main

sys.exit(main())
