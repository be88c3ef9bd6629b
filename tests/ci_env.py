"""Whether the tests run in CI (``CI=true``): there, a missing service or extra is a failure, not a skip."""

from __future__ import annotations

import os

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
