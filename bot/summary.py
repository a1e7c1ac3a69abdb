"""A recognition result as text a person reads at a glance."""

from __future__ import annotations

from bot.recognizer import RecognitionResult, Segment

SEGMENT_NAMES: dict[Segment, str] = {
    Segment.HEAD: "Head (face with hair)",
    Segment.FACE: "Face",
    Segment.CLOTHING: "Clothing",
    Segment.OBJECT: "Main object",
}
FOUND = "✅"
NOT_FOUND = "❌"
NOT_REPORTED = "❔"


def summarise(result: RecognitionResult) -> str:
    """A headline, then one line per segment: found first, each group in a stable order.

    The four known segments always appear; a type the API adds later is shown
    by its raw name rather than dropped.
    """
    rows: list[tuple[bool | None, str]] = [
        (result.contains(segment), name) for segment, name in SEGMENT_NAMES.items()
    ]
    known = {segment.value for segment in Segment}
    rows += [(found, raw) for raw, found in result.segments.items() if raw not in known]

    found = [name for state, name in rows if state is True]
    missing = [name for state, name in rows if state is False]
    unreported = [name for state, name in rows if state is None]

    if found:
        headline = f"Found {len(found)} of {len(rows)} segments in this image:"
    else:
        headline = "No segments found in this image:"
    lines = [headline]
    lines += [f"{FOUND} {name}" for name in found]
    lines += [f"{NOT_FOUND} {name}" for name in missing]
    lines += [f"{NOT_REPORTED} {name} (not reported)" for name in unreported]
    return "\n".join(lines)
