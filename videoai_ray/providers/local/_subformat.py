"""Subtitle cues: readable segmentation and timing of plain text, and escaping per format.

Readability rules (common broadcast/streaming guidelines): at most ``MAX_LINE`` characters per
line and ``MAX_LINES`` lines per cue, breaks at sentence then clause boundaries, on-screen time
from a reading speed of ``CPS`` characters per second, clamped to ``MIN_DURATION``..``MAX_DURATION``,
with a short gap between cues.

Escaping (``pysubs2`` writes the files; the text is escaped first so it survives as written):

* ASS: ``{``/``}`` would open override blocks -> ``\\{``/``\\}`` (libass escapes); a backslash is
  followed by a WORD JOINER (U+2060) so ``\\N``, ``\\n``, ``\\h`` in the text are not line-break
  codes; line breaks are ``\\N``.
* WebVTT: ``&``, ``<``, ``>`` become ``&amp;``, ``&lt;``, ``&gt;`` (so ``-->`` cannot appear).
* SRT has no escape syntax: ``-->`` becomes ``->`` and a ``<`` that would start an HTML-like tag
  becomes U+2039 (a single angle quote) so players do not swallow text; backslashes are kept verbatim.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pysubs2

MAX_LINE = 42
MAX_LINES = 2
CPS = 15.0
MIN_DURATION = 1.0
MAX_DURATION = 7.0
GAP = 0.1

_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s)")
_CLAUSE_END = re.compile(r"(?<=[,;:\u2014\u2013])\s+")
_TAG_START = re.compile(r"<(?=\s*/?\s*[A-Za-z])")
#: stands in for a backslash while pysubs2 writes SRT/VTT (it would turn ``\N`` into a newline)
_BACKSLASH = "\ue000"

CONTENT_TYPES = {"srt": "application/x-subrip", "vtt": "text/vtt", "ass": "text/x-ssa"}


@dataclass(frozen=True)
class TimedCue:
    """One cue: start and end in seconds and its display lines."""

    start: float
    end: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.lines)


def normalise(text: str) -> str:
    """Collapse whitespace and drop control and private-use characters."""
    text = "".join(ch for ch in text if ch in "\n\t" or (ch >= " " and not "\ue000" <= ch <= "\uf8ff"))
    return " ".join(text.split())


def _chop(word: str) -> list[str]:
    return [word[i:i + MAX_LINE] for i in range(0, len(word), MAX_LINE)] or [word]


def break_lines(text: str, max_lines: int | None = MAX_LINES) -> list[str] | None:
    """Split ``text`` into lines of at most ``MAX_LINE`` chars; None if it needs > ``max_lines``.

    For two lines the most balanced break is chosen, preferring a break after punctuation;
    longer texts (manual cues) are wrapped greedily.
    """
    words = [piece for w in text.split() for piece in _chop(w)]
    if not words:
        return []
    if len(" ".join(words)) <= MAX_LINE:
        return [" ".join(words)]
    best: tuple[float, list[str]] | None = None
    for i in range(1, len(words)):
        a, b = " ".join(words[:i]), " ".join(words[i:])
        if len(a) <= MAX_LINE and len(b) <= MAX_LINE:
            score = abs(len(a) - len(b)) - (8 if a[-1] in ",;:.!?" else 0) + (4 if len(a) > len(b) else 0)
            if best is None or score < best[0]:
                best = (score, [a, b])
    if best is not None:
        return best[1]
    if max_lines is not None and max_lines <= 2:
        return None
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= MAX_LINE:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines if max_lines is None or len(lines) <= max_lines else None


def _pack(words: list[str]) -> list[str]:
    """Split words into the fewest chunks that each fit in two lines, of balanced lengths."""
    total = len(" ".join(words))
    k = max(1, -(-total // (MAX_LINE * MAX_LINES)))
    while True:
        target = total / k
        chunks: list[str] = []
        current: list[str] = []
        for word in words:
            trial = [*current, word]
            if current and (len(" ".join(trial)) > target + 6 or break_lines(" ".join(trial)) is None):
                chunks.append(" ".join(current))
                current = [word]
            else:
                current = trial
        chunks.append(" ".join(current))
        if len(chunks) <= k and all(break_lines(c) is not None for c in chunks):
            return chunks
        k += 1


def split_sentences(text: str) -> list[str]:
    """Split after sentence-ending punctuation (and any closing quotes or brackets)."""
    parts: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        parts.append(text[start:m.end()].strip())
        start = m.end()
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def segment(text: str) -> list[str]:
    """Cue texts: sentences, split at clauses and then at words when too long for two lines."""
    chunks: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        for sentence in split_sentences(normalise(paragraph)):
            if break_lines(sentence) is not None:
                chunks.append(sentence)
                continue
            pending: list[str] = []
            for clause in _CLAUSE_END.split(sentence):
                trial = " ".join([*pending, clause])
                if break_lines(trial) is not None:
                    pending = [trial]
                    continue
                if pending:
                    chunks.append(pending[0])
                if break_lines(clause) is not None:
                    pending = [clause]
                else:
                    *head, last = _pack([piece for w in clause.split() for piece in _chop(w)])
                    chunks.extend(head)
                    pending = [last]
            chunks.extend(pending)
    return chunks


def reading_time(text: str) -> float:
    """Seconds on screen for ``text`` at ``CPS``, clamped to the min/max cue duration."""
    return min(MAX_DURATION, max(MIN_DURATION, len(text) / CPS))


def auto_cues(text: str, start: float = 0.0) -> list[TimedCue]:
    """Segment ``text`` and time each cue from its reading time, back to back with a gap."""
    cues: list[TimedCue] = []
    t = start
    for chunk in segment(text):
        lines = break_lines(chunk) or [chunk[:MAX_LINE]]
        end = t + reading_time(chunk)
        cues.append(TimedCue(round(t, 3), round(end, 3), tuple(lines)))
        t = end + GAP
    return cues


def escape(line: str, fmt: str) -> str:
    """Escape one display line for ``fmt`` (see the module docstring)."""
    if fmt == "ass":
        return line.replace("\\", "\\\u2060").replace("{", "\\{").replace("}", "\\}")
    line = line.replace("\\", _BACKSLASH)
    if fmt == "vtt":
        return html.escape(line, quote=False)
    return _TAG_START.sub("\u2039", line.replace("-->", "->"))


def render(cues: list[TimedCue], fmt: str, title: str = "videoai-ray subtitles") -> str:
    """The subtitle file text in ``fmt`` (``srt``, ``vtt`` or ``ass``), written by pysubs2."""
    if fmt not in CONTENT_TYPES:
        raise ValueError(f"unknown subtitle format {fmt!r}")
    subs = pysubs2.SSAFile()
    for cue in cues:
        text = "\\N".join(escape(line, fmt) for line in cue.lines)
        subs.append(pysubs2.SSAEvent(start=round(cue.start * 1000), end=round(cue.end * 1000), text=text))
    if fmt == "ass":
        subs.info["Title"] = title
        subs.info["PlayResX"], subs.info["PlayResY"] = "1920", "1080"
        subs.info["WrapStyle"] = "2"  # no automatic wrapping: our line breaks are final
        style = subs.styles["Default"]
        style.fontsize, style.outline, style.shadow, style.marginv = 54.0, 3.0, 1.0, 60
        return subs.to_string("ass")
    out = subs.to_string(fmt, keep_ssa_tags=True)
    return out.replace(_BACKSLASH, "\\")
