"""The speech clips the local provider tests read (owned by the bench package: videoai_bench/data)."""

from __future__ import annotations

from videoai_bench import SPEECH_CLIPS_DIR

SPEECH = SPEECH_CLIPS_DIR
