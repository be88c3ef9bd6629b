"""docs/configuration.md names every setting: a field added to ``Settings`` without its row fails here."""

from __future__ import annotations

from pathlib import Path

from videoai_ray.settings import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def env_names(name: str) -> list[str]:
    """The variables that set field ``name`` (its alias, or ``VIDEOAI_<NAME>``)."""
    alias = Settings.model_fields[name].validation_alias
    if alias is None:
        return [f"VIDEOAI_{name.upper()}"]
    return [str(a) for a in getattr(alias, "choices", [alias])]


def test_every_setting_has_a_row_in_the_configuration_doc():
    table = "\n".join(line for line in DOC.read_text().splitlines() if line.startswith("| `"))
    missing = [env_names(n)[0] for n in Settings.model_fields if not any(f"`{v}`" in table for v in env_names(n))]
    assert not missing, f"docs/configuration.md has no row for {missing}"
