"""``python -m pipeline``: the same CLI as ``voice-onboard``."""

from __future__ import annotations

import sys

from pipeline.commands.console import main

sys.exit(main())
