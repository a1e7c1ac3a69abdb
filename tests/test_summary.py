"""The summary a person reads for a result."""

from __future__ import annotations

import gettext

from bot.messages.summary import summarize, summarize_line
from bot.recognition.results import RecognitionResult

EN = gettext.NullTranslations()


def _result(**segments: bool) -> RecognitionResult:
    return RecognitionResult(segments)


def test_found_first_then_missing_each_in_a_stable_order() -> None:
    text = summarize(_result(object_seg=True, cloth_seg=False, face_seg=True, head_seg=False), EN)
    assert text.splitlines() == [
        "Found 2 of 4 segments in this image:",
        "✅ Face",
        "✅ Main object",
        "❌ Head (face with hair)",
        "❌ Clothing",
    ]


def test_nothing_found_has_its_own_headline() -> None:
    text = summarize(_result(head_seg=False, face_seg=False, cloth_seg=False, object_seg=False), EN)
    assert text.splitlines()[0] == "No segments found in this image:"
    assert len(text.splitlines()) == 5


def test_unknown_types_are_shown_by_raw_name_and_missing_known_ones_marked() -> None:
    text = summarize(_result(head_seg=True, hand_seg=True, cloth_seg=False), EN)
    lines = text.splitlines()
    assert lines[0] == "Found 2 of 5 segments in this image:"
    assert "✅ hand_seg" in lines
    assert "❔ Face (not reported)" in lines
    assert "❔ Main object (not reported)" in lines


def test_one_line_form_for_albums() -> None:
    line = summarize_line(
        _result(head_seg=True, face_seg=False, cloth_seg=True, object_seg=False), EN
    )
    assert line == "✅ Head (face with hair), Clothing · ❌ Face, Main object"
