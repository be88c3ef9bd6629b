"""Benchmarks behind ``videoai bench``, shipped next to the runtime package ``videoai_ray``.

One module per suite (``core``, ``http``, ``providers``, ``cache``, ``batch``, ``models``); each
measures one component against a baseline taken in the same run and returns rows
``{"benchmark", "value", "unit", ...}``. ``report`` runs the suites and prints the table. The
package's own data (the speech clips) lives in ``data/``; the figures are in docs/benchmarks.md.
"""

from pathlib import Path

#: this package's data folder (shipped as package data)
DATA_DIR = Path(__file__).resolve().parent / "data"
#: the synthetic speech clips and their reference texts (``clips.json``); the tests read them here too
SPEECH_CLIPS_DIR = DATA_DIR / "speech"
