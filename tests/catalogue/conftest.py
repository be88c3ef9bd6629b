"""The catalogue tests build their tiny models with the helpers of tests/providers/local."""

from __future__ import annotations

import sys
from pathlib import Path

_LOCAL = str(Path(__file__).resolve().parents[1] / "providers" / "local")
if _LOCAL not in sys.path:
    sys.path.insert(0, _LOCAL)
