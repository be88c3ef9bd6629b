"""``local-subtitles``: files that parse back with pysubs2, readable cues, correct escaping."""

from __future__ import annotations

import html
import re
from typing import Any

import pysubs2
import pytest
from attempt_context import MakeCtx, artifact_path, run

from videoai_ray.errors import InvalidInput
from videoai_ray.models import Cue, SubtitleGenerationRequest
from videoai_ray.providers.local._subformat import CPS, segment
from videoai_ray.providers.local.subtitles import LocalSubtitleProvider

TEXT = (
    "Welcome back to the channel! Today we are looking at how subtitles are timed, why line "
    "length matters, and what happens when a sentence is far too long to fit on the screen at "
    "once, which is more common than you might think. Short one. Another short one? "
    "Finally, a last sentence that closes the example."
)


def _make(make_ctx: MakeCtx, **fields: Any) -> dict[str, Any]:
    ctx, _ = make_ctx(f"sub_{abs(hash(repr(fields)))}")
    return run(LocalSubtitleProvider().run(SubtitleGenerationRequest.model_validate(fields), ctx))


def _words(text: str) -> list[str]:
    return text.split()


@pytest.mark.parametrize("fmt", ["srt", "vtt", "ass"])
def test_auto_cues_are_readable_and_parse_back(make_ctx: MakeCtx, fmt: str) -> None:
    out = _make(make_ctx, text=TEXT, format=fmt)
    content = out["content"]
    assert isinstance(content, str)
    assert artifact_path(out["subtitle_url"]).read_text("utf-8") == content
    subs = pysubs2.SSAFile.from_string(content)
    assert subs.format == fmt and len(subs) == out["cues"] >= 5
    precision = 10 if fmt == "ass" else 1  # ASS stores centiseconds
    previous_end = -1
    for ev in subs:
        lines = ev.text.split("\\N")
        assert 1 <= len(lines) <= 2 and all(len(line) <= 42 for line in lines), lines
        text = " ".join(lines)
        seconds = (ev.end - ev.start) / 1000
        assert 1.0 - precision / 1000 <= seconds <= 7.0
        assert seconds == pytest.approx(max(1.0, len(text) / CPS), abs=precision / 1000)
        assert ev.start > previous_end  # in order, no overlap
        previous_end = ev.end
    # every word is shown, in order
    assert _words(" ".join(ev.text.replace("\\N", " ") for ev in subs)) == _words(TEXT)
    assert out["duration"] == pytest.approx(subs[-1].end / 1000, abs=precision / 1000)


def test_segmentation_prefers_sentence_then_clause_boundaries() -> None:
    cues = segment(TEXT)
    assert cues[0] == "Welcome back to the channel!"
    assert "Short one." in cues and "Another short one?" in cues
    long_parts = [c for c in cues if c.startswith("Today") or c.startswith("and what")]
    assert long_parts and all(c.endswith(",") for c in long_parts)  # split after commas


def test_overlong_words_are_cut_to_the_line_limit() -> None:
    word = "x" * 100
    cues = segment(f"Look at this {word} now.")
    assert "".join(cues).replace(" ", "").count("x") == 100
    assert all(len(part) <= 42 for c in cues for part in c.split())


def test_vtt_escapes_markup_and_arrows(make_ctx: MakeCtx) -> None:
    text = "Use <b>bold</b> & stay --> here."
    out = _make(make_ctx, text=text, format="vtt")
    content = str(out["content"])
    timing = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}$")
    body = [ln for ln in content.splitlines() if ln and ln != "WEBVTT" and not ln.isdigit()
            and not timing.match(ln)]
    assert body
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; stay --&gt; here." in content
    assert all("<" not in ln and "-->" not in ln for ln in body)
    subs = pysubs2.SSAFile.from_string(content)
    assert html.unescape(subs[0].text) == text


def test_ass_escapes_override_braces_and_backslashes(make_ctx: MakeCtx) -> None:
    text = r"Path C:\new\Notes {not a tag} stays."
    out = _make(make_ctx, text=text, format="ass")
    subs = pysubs2.SSAFile.from_string(str(out["content"]))
    raw = subs[0].text
    assert "\\{not a tag\\}" in raw
    assert "\\n" not in raw and "\\N" not in raw  # no accidental line-break codes
    unescaped = raw.replace("\\{", "{").replace("\\}", "}").replace("\u2060", "")
    assert unescaped == text


def test_srt_keeps_text_and_neutralises_structure(make_ctx: MakeCtx) -> None:
    text = r"A --> B and a <font> tag, C:\new stays."
    out = _make(make_ctx, text=text, format="srt")
    content = str(out["content"])
    assert content.count("-->") == 1  # only the timing line
    assert r"C:\new" in content and "<font>" not in content
    assert pysubs2.SSAFile.from_string(content)[0].text == "A -> B and a \u2039font> tag, C:\\new stays."


def test_manual_cues_use_given_times_and_text_lines(make_ctx: MakeCtx) -> None:
    out = _make(
        make_ctx,
        text="First line\nSecond line",
        timing_mode="manual",
        cues=[Cue(start=0.5, end=2.25), Cue(start=3.0, end=4.75)],
        format="srt",
    )
    subs = pysubs2.SSAFile.from_string(str(out["content"]))
    got = [(e.start, e.end, e.text) for e in subs]
    assert got == [(500, 2250, "First line"), (3000, 4750, "Second line")]
    out2 = _make(make_ctx, text="ignored", timing_mode="manual", format="vtt",
                 cues=[Cue(start=1, end=2, text="Own text that is long enough to need two lines here")])
    ev = pysubs2.SSAFile.from_string(str(out2["content"]))[0]
    lines = ev.text.split("\\N")
    assert len(lines) == 2 and all(len(line) <= 42 for line in lines)
    assert " ".join(lines) == "Own text that is long enough to need two lines here"
    assert abs(len(lines[0]) - len(lines[1])) < 12  # balanced, not greedy


def test_manual_cues_all_empty_is_invalid(make_ctx: MakeCtx) -> None:
    with pytest.raises(InvalidInput):
        _make(make_ctx, text="x", timing_mode="manual", cues=[Cue(start=0, end=1, text="  ")])


def test_does_not_translate(make_ctx: MakeCtx) -> None:
    p = LocalSubtitleProvider()
    assert p.translates is False and not p.cpu_bound
    assert p.supports(SubtitleGenerationRequest(text="hi"))
    assert p.supports(SubtitleGenerationRequest(text="hi", source_language="en", target_language="en"))
    assert not p.supports(SubtitleGenerationRequest(text="olá", source_language="pt", target_language="en"))
    with pytest.raises(InvalidInput, match="does not translate"):
        run(p.run(SubtitleGenerationRequest(text="hola", source_language="es", target_language="fr"),
                  make_ctx("sub_tr")[0]))
