"""Policies: segment names, verdicts, storage form."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.moderation import (
    Action,
    Breach,
    ChatSettings,
    Deed,
    Mode,
    Penalty,
    judge,
    parse_duration,
    parse_segment,
)
from bot.moderation.report import Report
from bot.recognition.results import RecognitionResult, Segment


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


@pytest.mark.parametrize(
    ("word", "seconds"),
    [
        ("30m", 1800),
        ("12h", 43200),
        ("7d", 7 * 86400),
        ("2w", 14 * 86400),
        ("forever", 0),
        ("FOREVER", 0),
        ("10s", None),
        ("0m", None),
        ("367d", None),
        ("1y", None),
        ("h", None),
    ],
)
def test_penalty_durations_within_what_telegram_accepts(word: str, seconds: int | None) -> None:
    assert parse_duration(word) == seconds


def test_settings_saved_before_modes_read_as_on() -> None:
    assert ChatSettings.from_json('{"moderate": true}').mode is Mode.ON
    assert ChatSettings.from_json('{"moderate": false}').mode is Mode.OFF
    full = ChatSettings(
        mode=Mode.DRY, warn_limit=5, penalty=Penalty.BAN, penalty_seconds=0, check_files=True
    )
    assert ChatSettings.from_json(full.to_json()) == full


def test_a_report_offers_only_the_buttons_that_make_sense() -> None:
    base = Report(
        chat_id=-5,
        chat_title="G",
        message_id=1,
        author_id=7,
        author_is_chat=False,
        author_name="Ann",
        file_id="f",
        document=False,
        image_keys=("file:u",),
        caption="c",
        language="en",
    )
    assert base.verbs() == ("allow", "ban"), "nothing done: nothing to undo"
    acted = replace(base, deeds=(Deed.DELETED, Deed.BANNED))
    assert acted.verbs() == ("undo", "allow"), "already banned"
    assert Report.from_json(acted.to_json()) == acted
    assert replace(base, author_id=None, image_keys=()).verbs() == ()
