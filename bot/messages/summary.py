"""A recognition result as text a person reads at a glance."""

from __future__ import annotations

from bot.i18n import N_, Translations, join
from bot.recognition.results import RecognitionResult, Segment

SEGMENT_NAMES: dict[Segment, str] = {
    Segment.HEAD: N_("Head (face with hair)"),
    Segment.FACE: N_("Face"),
    Segment.CLOTHING: N_("Clothing"),
    Segment.OBJECT: N_("Main object"),
}
FOUND = "✅"
NOT_FOUND = "❌"
NOT_REPORTED = "❔"


def _rows(result: RecognitionResult, tr: Translations) -> list[tuple[bool | None, str]]:
    """(state, name) per segment: the four known ones, then any new type by raw name."""
    rows = [(result.contains(segment), tr.gettext(name)) for segment, name in SEGMENT_NAMES.items()]
    known = {segment.value for segment in Segment}
    rows += [(found, raw) for raw, found in result.segments.items() if raw not in known]
    return rows


def summarize(result: RecognitionResult, tr: Translations) -> str:
    """A headline, then one line per segment: found first, each group in a stable order.

    The four known segments always appear; a type the API adds later is shown
    by its raw name rather than dropped.
    """
    _ = tr.gettext
    rows = _rows(result, tr)
    found = [name for state, name in rows if state is True]
    missing = [name for state, name in rows if state is False]
    unreported = [name for state, name in rows if state is None]

    if found:
        headline = tr.ngettext(
            "Found {found} of {total} segment in this image:",
            "Found {found} of {total} segments in this image:",
            len(rows),
        ).format(found=len(found), total=len(rows))
    else:
        headline = _("No segments found in this image:")
    lines = [headline]
    lines += [f"{FOUND} {name}" for name in found]
    lines += [f"{NOT_FOUND} {name}" for name in missing]
    lines += [f"{NOT_REPORTED} " + _("{name} (not reported)").format(name=n) for n in unreported]
    return "\n".join(lines)


def summarize_line(result: RecognitionResult, tr: Translations) -> str:
    """The same on one line, for answers that cover several images."""
    rows = _rows(result, tr)
    found = join((name for state, name in rows if state is True), tr)
    missing = join((name for state, name in rows if state is not True), tr)
    parts = [f"{FOUND} {found}" if found else "", f"{NOT_FOUND} {missing}" if missing else ""]
    return " · ".join(part for part in parts if part)
