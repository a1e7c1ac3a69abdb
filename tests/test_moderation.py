"""Policies: segment names, verdicts, storage form."""

from __future__ import annotations

import pytest

from bot.moderation import Action, Breach, ChatSettings, Mode, judge, parse_segment
from bot.results import RecognitionResult, Segment


@pytest.mark.parametrize(
    ("word", "segment"),
    [
        ("face", Segment.FACE),
        ("Faces", Segment.FACE),
        ("head", Segment.HEAD),
        ("clothes", Segment.CLOTHING),
        ("object", Segment.OBJECT),
        ("subject", Segment.OBJECT),
        ("nose", None),
    ],
)
def test_segment_names_and_aliases(word: str, segment: Segment | None) -> None:
    assert parse_segment(word) is segment


def test_forbid_require_allow_replace_each_other() -> None:
    settings = ChatSettings().forbidding(Segment.FACE).requiring(Segment.FACE)
    assert settings.require == {Segment.FACE}
    assert settings.forbid == frozenset()
    assert settings.allowing(Segment.FACE) == ChatSettings()


def test_judge_reports_forbidden_found_and_required_missing() -> None:
    settings = ChatSettings(
        forbid=frozenset({Segment.FACE}), require=frozenset({Segment.CLOTHING, Segment.OBJECT})
    )
    result = RecognitionResult({"face_seg": True, "cloth_seg": False})
    assert judge(settings, result) == [
        Breach(Segment.FACE, forbidden=True),
        Breach(Segment.CLOTHING, forbidden=False),
        Breach(Segment.OBJECT, forbidden=False),
    ]
    passing = RecognitionResult({"face_seg": False, "cloth_seg": True, "object_seg": True})
    assert judge(settings, passing) == []


def test_settings_round_trip_through_json() -> None:
    settings = ChatSettings(
        mode=Mode.ON,
        forbid=frozenset({Segment.HEAD, Segment.FACE}),
        require=frozenset({Segment.CLOTHING}),
        action=Action.REPORT,
        language="ru",
    )
    assert ChatSettings.from_json(settings.to_json()) == settings
    assert ChatSettings.from_json('{"moderate": true, "future": 1}') == ChatSettings(mode=Mode.ON)
