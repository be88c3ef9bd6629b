"""Constants for the local provider tests: the speech clips (owned by the bench package), and whether CI runs."""

from __future__ import annotations

import os

from videoai_bench import SPEECH_CLIPS_DIR

SPEECH = SPEECH_CLIPS_DIR
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
