"""Content-addressed keys: stable across key order and whitespace, different for different work."""

from __future__ import annotations

import re

import pytest

from videoai_ray.cache import keys as keys_mod
from videoai_ray.cache.keys import cache_key, canonical_json
from videoai_ray.models import TaskType

IMAGE = TaskType.IMAGE_GENERATION
BASE = {"prompt": "a red fox", "size": "1024x1024", "n": 1, "style": {"tone": "warm", "grain": 0.5}}


def test_key_format_is_versioned_sha256() -> None:
    assert re.fullmatch(r"v1:[0-9a-f]{64}", cache_key(IMAGE, BASE))


def test_key_is_pinned() -> None:
    """A change of normalisation or hashing must come with a KEY_VERSION bump: this pin fails first."""
    assert canonical_json(IMAGE, {"prompt": " a fox ", "n": 2.0}) == (
        '{"input":{"n":2,"prompt":"a fox"},"task_type":"image_generation","version":"v1"}'
    )
    assert cache_key(IMAGE, {"prompt": "a fox"}) == (
        "v1:2d30cae56c676e83e337d21228b26f9bda2c6baea4d7b6d9cc0406f9dc487a28"
    )


def test_same_input_in_another_key_order_gives_the_same_key() -> None:
    shuffled = {"style": {"grain": 0.5, "tone": "warm"}, "n": 1, "size": "1024x1024", "prompt": "a red fox"}
    assert cache_key(IMAGE, shuffled) == cache_key(IMAGE, BASE)


def test_surrounding_whitespace_and_none_fields_do_not_matter() -> None:
    padded = {
        **BASE,
        "prompt": "  a red fox\n",
        "negative_prompt": None,
        "style": {"tone": " warm", "grain": 0.5},
    }
    assert cache_key(IMAGE, padded) == cache_key(IMAGE, BASE)


def test_numbers_and_sequences_are_normalised() -> None:
    assert cache_key(IMAGE, {**BASE, "n": 1.0}) == cache_key(IMAGE, BASE)
    assert cache_key(IMAGE, {"tags": ("a", "b")}) == cache_key(IMAGE, {"tags": ["a", "b"]})
    assert cache_key("image_generation", BASE) == cache_key(IMAGE, BASE)


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "a red fox!"},
        {"prompt": "A red fox"},
        {"n": 2},
        {"n": True},
        {"style": {"tone": "warm", "grain": 0.6}},
        {"extra": "field"},
        {"prompt": "a  red fox"},  # inner whitespace is content
    ],
)
def test_different_input_gives_a_different_key(change: dict[str, object]) -> None:
    assert cache_key(IMAGE, {**BASE, **change}) != cache_key(IMAGE, BASE)


def test_task_type_is_part_of_the_key() -> None:
    keys = {cache_key(t, {"prompt": "x"}) for t in TaskType}
    assert len(keys) == len(TaskType)


def test_list_order_is_content() -> None:
    assert cache_key(IMAGE, {"tags": ["a", "b"]}) != cache_key(IMAGE, {"tags": ["b", "a"]})


def test_version_bump_changes_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    before = cache_key(IMAGE, BASE)
    monkeypatch.setattr(keys_mod, "KEY_VERSION", "v2")
    after = cache_key(IMAGE, BASE)
    assert after.startswith("v2:")
    assert after[3:] != before[3:]


def test_non_json_input_is_refused() -> None:
    with pytest.raises(TypeError, match="model_dump"):
        cache_key(IMAGE, {"when": object()})
    with pytest.raises(TypeError):
        cache_key(IMAGE, {1: "x"})  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        cache_key(IMAGE, {"x": float("nan")})
    with pytest.raises(ValueError):
        cache_key("image_editing", BASE)
