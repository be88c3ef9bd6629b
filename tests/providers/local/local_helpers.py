"""Constants for the local provider tests: the committed speech clips."""

from __future__ import annotations

from pathlib import Path

SPEECH = Path(__file__).resolve().parents[2] / "data" / "speech"
