"""Constants for the local provider tests: the committed speech clips, and whether CI runs."""

from __future__ import annotations

import os
from pathlib import Path

SPEECH = Path(__file__).resolve().parents[2] / "data" / "speech"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
