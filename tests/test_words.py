"""Russian and Chinese texts as people read them: no English word or unit left inside,
and every count in its right plural form.

Units, decided once for both catalogs and checked here: each language writes a unit
the way its own Telegram and operating system show it.
- Russian writes every unit in Cyrillic: МБ (not MB), пикс. (not px), and time in
  words (час, минута: never h or min).
- Chinese keeps the byte symbol MB, as Chinese Telegram, Windows and phones do, and
  writes the rest in words: 像素 (not px), 小时 and 分钟 (never h or min), and counts
  megapixels in 万 as Chinese camera specs do (50 megapixels: 5000 万像素).
- Both keep names and codes that have no translation: UTC, Telegram, Kling, the file
  formats, @BotFather; help and usage texts also keep the command words people type.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from babel.messages.pofile import read_po

from bot import images, messages
from bot.i18n import Catalogs, Translations, catalog_path, locale_of
from bot.images import Change, PreparedImage
from bot.moderation import (
    Action,
    Breach,
    ChatSettings,
    Deed,
    Mode,
    OnError,
    Penalty,
    Shortfall,
    menu,
)
from bot.moderation.commands import UnknownSegment, Usage
from bot.moderation.rights import Right
from bot.outcomes import DeadlineExceeded, DownloadError, Failed, Limited, Recognized, Refused
from bot.quotas import QuotaExceeded, Remaining
from bot.recognizer import ErrorKind, RecognitionError
from bot.results import RecognitionResult, Segment
from bot.summary import summarize

CATALOGS = Catalogs()
MIDNIGHT = datetime(2026, 11, 26, tzinfo=UTC)
COUNTS = (1, 2, 3, 5, 11, 21, 22, 25, 101)
# Names and chat titles carry no Latin letters, so any letter found is the catalog's.
AUTHOR, CHAT, ADMIN = "👤", "💬", "🛡"
NAMES = {"UTC", "Telegram", "Kling", "JPG", "JPEG", "PNG", "HEIF", "WebP", "HEIC", "GIF", "BMP"}
NAMES |= {"TIFF", "BotFather", "API"}  # the recognition API, as operators call it
NAMES |= {"GROUP", "DAILY", "LIMIT"}  # GROUP_DAILY_LIMIT, the setting the operator changes
NAMES |= {"English"}  # the /settings language buttons name each language in itself
UNITS = {"ru": set[str](), "zh": {"MB"}, "zh-hant": {"MB"}}
COMMAND_WORDS = {"on", "off", "dry", "warn", "delete", "report", "allow", "reset", "mute", "ban"}
COMMAND_WORDS |= {"forever", "auto", "en", "ru", "zh", "hant", "head", "face", "clothing", "object"}
COMMAND_WORDS |= {"m", "h", "d"}  # /warnlimit ... 30m | 12h | 7d
COMMAND_WORDS |= {"private"}  # /settings private
LATIN = re.compile(r"[A-Za-z]+")


def _result(found: int, total: int) -> RecognitionResult:
    """A result with `found` of `total` segments found; the extra ones are types the API
    might add, shown by their raw names (here without Latin letters)."""
    names = ["head_seg", "face_seg", "cloth_seg", "object_seg"]
    names += [f"θ{n}" for n in range(total - len(names))]
    return RecognitionResult({name: index < found for index, name in enumerate(names)})


def _everyday(tr: Translations) -> Iterator[str]:
    """Every answer that carries a number, a time or a unit, for many numbers."""
    for count in COUNTS:
        wait = MIDNIGHT - timedelta(minutes=count * 37, seconds=count)
        for scope in ("user", "group", "global"):
            yield messages.limit_reached(QuotaExceeded(scope, count, MIDNIGHT), tr, wait)
        yield messages.quota_report(Remaining(count, None, MIDNIGHT), tr, wait)
        yield messages.duration(count * 60, tr)
        yield messages.duration(count * 3600, tr)
        yield messages.duration(count * 86400 + count * 60, tr)
        yield summarize(_result(min(count, 4), max(count, 4)), tr)
        outcomes = [Recognized(_result(1, 4)), Refused(images.TooSmall(count, 400))] * count
        yield messages.album_reply(outcomes[:count], tr, wait)
        settings = ChatSettings(
            mode=Mode.DRY,
            forbid=frozenset({Segment.FACE, Segment.OBJECT}),
            require=frozenset({Segment.CLOTHING, Segment.HEAD}),
            warn_limit=count,
            penalty=Penalty.BAN if count % 2 else Penalty.MUTE,
            penalty_seconds=count * 90 * 60 if count % 3 else 0,
            unchecked=count,
        )
        yield messages.settings_saved(settings, tr, allowed=count)
        yield messages.penalty_notice(AUTHOR, settings, count, tr)
        yield messages.warnings_report(AUTHOR, count, count + 1, tr)
        yield messages.report_caption(
            chat=CHAT,
            author=AUTHOR,
            problem=messages.unchecked_problem(
                Limited(QuotaExceeded("group", count, MIDNIGHT)), tr, wait
            ),
            found=None,
            deeds=list(Deed),
            dry=bool(count % 2),
            warnings=(count, count + 1),
            shortfalls=list(Shortfall),
            tr=tr,
            near=bool(count % 3),
        )
    yield summarize(_result(0, 4), tr)
    settings = ChatSettings(action=Action.REPORT, on_error=OnError.ALLOW, mode=Mode.OFF)
    yield messages.settings_text(replace(settings, language="zh"), tr, allowed=0)
    for action in Action:
        yield messages.settings_text(replace(settings, action=action, mode=Mode.ON), tr, allowed=1)
    breaches = [Breach(segment, forbidden=segment is Segment.FACE) for segment in Segment]
    yield messages.breach_warning(breaches, tr)
    yield messages.removal_notice(AUTHOR, breaches, tr)
    yield messages.breach_problem(breaches, tr)
    for reason in (
        images.TooSmall(250, 400),
        images.BadAspectRatio(300, 1000),
        images.BadAspectRatio(1000, 300),
        images.TooLargeToDownload(25_300_000, images.MAX_DOWNLOAD_BYTES),
        images.TooManyPixels(8000, 8000),
        images.TooManyPixels(),
        images.TooLargeToDownload(10**30, images.MAX_DOWNLOAD_BYTES),
        images.TooMuchWork(images.Work.SCANS, 200_000, images.MAX_SCANS),
        images.TooMuchWork(images.Work.MEMORY, 800_000_000, 512_000_000),
        images.HiddenPayload(),
        images.CorruptImage(),
        images.NotAnImage(),
    ):
        yield messages.refusal(reason, tr)
    for changes in (
        {Change.CONVERTED, Change.SHRUNK},
        {Change.RECOMPRESSED},
        {Change.CONVERTED, Change.FIRST_FRAME},
    ):
        image = PreparedImage(b"x", "image/png", 2000, 1500, "HEIF", frozenset(changes))
        yield messages.change_note(image, tr)
    for kind in ErrorKind:
        yield messages.failure(RecognitionError(kind, status=500, code=1, request_id="r"), tr)
    yield messages.reply_for(Failed(DownloadError("x")), tr, MIDNIGHT)
    yield messages.reply_for(Failed(DeadlineExceeded("x")), tr, MIDNIGHT)
    for can_delete, can_restrict in ((True, True), (False, False)):
        yield messages.rights_changed(CHAT, messages.rights_text(can_delete, can_restrict, tr), tr)
    for verb in ("undo", "allow", "ban"):
        yield messages.press_resolution(verb, ADMIN, MIDNIGHT, tr)
        yield messages.press_answer(verb, tr)
    yield messages.Buttons.undo(tr) + messages.Buttons.allow(tr) + messages.Buttons.ban(tr)
    yield messages.press_expired(tr) + messages.press_already(ADMIN, tr)
    yield messages.press_failed(tr)
    for right in Right:
        yield messages.person_lacks_right(right, tr) + messages.bot_lacks_right(right, tr)
        yield messages.right_name(right, tr)
    yield messages.rights_unknown(tr) + messages.confirmed_by(ADMIN, tr)
    yield messages.confirm_expired(tr) + messages.Buttons.confirm(tr)
    yield messages.unsure_notice(CHAT, tr) + messages.limit_reported_once(tr)
    for count in COUNTS:
        yield messages.group_limit_operator(CHAT, -100500, count, tr)
    yield messages.settings_text(ChatSettings(check_files=True), tr, allowed=0)
    yield messages.menu_expired(tr) + messages.menu_sent_privately(tr)
    for settings in (ChatSettings(), _MENU_SETTINGS):
        yield messages.menu_text(CHAT, settings, tr, allowed=2)
        for row in menu.rows(settings):
            for option in row:
                yield messages.menu_label(option.choice, option.selected, settings, tr)
    yield messages.restored_caption(ADMIN, AUTHOR, tr) + messages.warnings_cleared(AUTHOR, tr)
    yield messages.apology("1234", tr) + messages.too_many_at_once(tr) + messages.busy(tr)
    yield messages.set_aside(tr)
    yield messages.quota_report(None, tr, MIDNIGHT) + messages.stats_report({}, {}, 16, tr)
    yield messages.not_allowed(tr) + messages.bot_admins_only(tr)
    yield messages.allow_list_cleared(tr) + messages.check_usage(tr)
    yield messages.storage_unavailable(tr)
    yield messages.admin_lists_reloaded("", tr)
    yield messages.cutouts_button(tr) + messages.cutouts_gone_button(tr) + messages.cutouts_gone(tr)
    yield messages.cutouts_not_yours(tr) + messages.cutouts_taken(tr) + messages.cutouts_later(tr)
    yield messages.cutouts_start_first("🤖", tr)  # the bot's @name
    for kind in [*(segment.value for segment in Segment), "θ"]:
        yield messages.segment_name(kind, tr)


_MENU_SETTINGS = ChatSettings(
    mode=Mode.DRY,
    forbid=frozenset({Segment.FACE}),
    require=frozenset({Segment.HEAD}),
    warn_limit=1,
    penalty=Penalty.BAN,
    penalty_seconds=0,
    check_files=True,
    language="ru",
)


def _commands(tr: Translations) -> Iterator[str]:
    """Texts that quote commands with the words people type after them."""
    yield messages.help_text(tr)
    yield messages.hint(tr)
    yield messages.reply_to_someone("warns", tr)
    yield messages.unknown_segment("голова", tr)
    yield messages.problem(UnknownSegment("голова"), tr) + messages.problem(Usage("lang"), tr)
    yield messages.confirm_anonymous("warns", Right.CHANGE_INFO, tr)
    yield messages.menu_start_first("🔗", tr)
    for command in (
        "moderate",
        "warnlimit",
        "onerror",
        "forbid",
        "require",
        "allow",
        "action",
        "lang",
        "checkfiles",
    ):
        yield messages.usage(command, tr)


def _latin_words(texts: Iterator[str]) -> set[str]:
    """Latin-letter words outside /commands."""
    return {word for text in texts for word in LATIN.findall(re.sub(r"/[a-z]+", "", text))}


@pytest.mark.parametrize("language", ["ru", "zh", "zh-hant"])
def test_no_english_word_or_unit_leaks(language: str) -> None:
    tr = CATALOGS.get(language)
    allowed = NAMES | UNITS[language]
    assert _latin_words(_everyday(tr)) <= allowed
    assert _latin_words(_commands(tr)) <= allowed | COMMAND_WORDS


def _answers() -> dict[str, Callable[..., str]]:
    """Every public function of bot/messages.py and every button label, by name."""
    found = {
        name: function
        for name, function in inspect.getmembers(messages, inspect.isfunction)
        if function.__module__ == messages.__name__ and not name.startswith("_")
    }
    buttons = inspect.getmembers(messages.Buttons, inspect.isfunction)
    return found | {f"Buttons.{name}": function for name, function in buttons}


def test_the_leak_check_renders_every_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """An answer added to bot/messages.py fails here until `_everyday` or `_commands`
    renders it, so the leak check above covers new sentences too."""
    called: set[str] = set()

    def recording(name: str, function: Callable[..., str]) -> Callable[..., str]:
        def record(*args: object, **kwargs: object) -> str:
            called.add(name)
            return function(*args, **kwargs)

        return record

    answers = _answers()
    assert {"limit_reached", "duration", "Buttons.undo"} <= set(answers)
    for name, function in answers.items():
        owner, _, attribute = name.rpartition(".")
        target = messages.Buttons if owner else messages
        wrapped = recording(name, function)
        monkeypatch.setattr(target, attribute, staticmethod(wrapped) if owner else wrapped)
    tr = CATALOGS.get("ru")
    rendered = [*_everyday(tr), *_commands(tr)]
    assert all(rendered)
    assert set(answers) - called == set()


def test_the_leak_check_would_catch_english() -> None:
    english = _latin_words(_everyday(CATALOGS.get("en")))
    assert {"MB", "px", "hours", "minutes", "checks", "segments", "images"} <= english
    assert not {"h", "min"} & english, "times are in words in English too"


@pytest.mark.parametrize(
    ("language", "units"),
    [
        ("ru", ["МБ", "пикс.", "мегапиксел"]),
        ("zh", ["MB", "像素", f"{images.MAX_PIXELS // 10_000} 万像素"]),
        ("zh-hant", ["MB", "像素", f"{images.MAX_PIXELS // 10_000} 萬像素"]),
    ],
)
def test_units_as_decided(language: str, units: list[str]) -> None:
    tr = CATALOGS.get(language)
    text = "\n".join(
        [
            messages.help_text(tr),
            messages.refusal(images.TooLargeToDownload(25_300_000, images.MAX_DOWNLOAD_BYTES), tr),
            messages.refusal(images.TooManyPixels(8000, 8000), tr),
        ]
    )
    assert all(unit in text for unit in units), text


def _wait(hours: int, minutes: int) -> datetime:
    return MIDNIGHT - timedelta(hours=hours, minutes=minutes)


@pytest.mark.parametrize(
    ("language", "hours", "minutes", "expected"),
    [
        ("en", 17, 37, "in 17 hours 37 minutes."),
        ("en", 1, 1, "in 1 hour 1 minute."),
        ("en", 0, 0, "in 1 minute."),
        ("ru", 17, 37, "в 00:00 UTC, через 17 часов 37 минут."),
        # After «через» one minute is «минуту» (a penalty of 21 minutes is «21 минута»).
        ("ru", 21, 21, "через 21 час 21 минуту."),
        ("ru", 0, 1, "через 1 минуту."),
        ("ru", 2, 3, "через 2 часа 3 минуты."),
        ("ru", 5, 0, "через 5 часов."),
        ("zh", 17, 37, "（还有 17 小时 37 分钟）。"),
        ("zh", 0, 5, "（还有 5 分钟）。"),
        ("zh-hant", 17, 37, "（還有 17 小時 37 分鐘）。"),
    ],
)
def test_reset_times_in_the_readers_words(
    language: str, hours: int, minutes: int, expected: str
) -> None:
    tr = CATALOGS.get(language)
    now = _wait(hours, minutes)
    assert messages.quota_report(Remaining(1, 1, MIDNIGHT), tr, now).endswith(expected)
    limited = messages.limit_reached(QuotaExceeded("user", 3, MIDNIGHT), tr, now)
    assert limited.endswith(expected)


@pytest.mark.parametrize(
    ("count", "checks", "images", "segments", "minutes"),
    [
        (1, "1 проверку.", "1 изображения:", "из 1 сегмента:", "1 минута"),
        (2, "2 проверки.", "2 изображений:", "из 2 сегментов:", "2 минуты"),
        (5, "5 проверок.", "5 изображений:", "из 5 сегментов:", "5 минут"),
        (11, "11 проверок.", "11 изображений:", "из 11 сегментов:", "11 минут"),
        (21, "21 проверку.", "21 изображения:", "из 21 сегмента:", "21 минута"),
        (22, "22 проверки.", "22 изображений:", "из 22 сегментов:", "22 минуты"),
    ],
)
def test_russian_counts_take_their_plural_form(
    count: int, checks: str, images: str, segments: str, minutes: str
) -> None:
    tr = CATALOGS.get("ru")
    limited = messages.limit_reached(QuotaExceeded("user", count, MIDNIGHT), tr, MIDNIGHT)
    assert checks in limited
    outcomes = [Recognized(_result(1, 4))] * count
    assert messages.album_reply(outcomes, tr, MIDNIGHT).splitlines()[0].endswith(images)
    # A result with fewer than 4 segments cannot happen; the plural is checked on its own.
    headline = tr.ngettext(
        "Found {found} of {total} segment in this image:",
        "Found {found} of {total} segments in this image:",
        count,
    ).format(found=1, total=count)
    assert headline.endswith(segments)
    assert messages.duration(count * 60, tr) == minutes
    assert f"Список разрешённых: {count} изображени" in messages.settings_text(
        ChatSettings(), tr, allowed=count
    )


@pytest.mark.parametrize(
    ("count", "english"),
    [
        (1, "You have used your 1 check for today."),
        (2, "You have used all 2 of your checks for today."),
    ],
)
def test_english_counts_read_right_for_one(count: int, english: str) -> None:
    tr = CATALOGS.get("en")
    assert messages.limit_reached(QuotaExceeded("user", count, MIDNIGHT), tr, MIDNIGHT).startswith(
        english
    )
    summary = summarize(_result(1, 4), tr)
    assert summary.startswith("Found 1 of 4 segments")
    assert messages.album_reply([Refused(images.NotAnImage())], tr, MIDNIGHT).startswith(
        "Results for 1 image:"
    )


def test_chinese_lists_and_sentences_use_chinese_punctuation() -> None:
    tr = CATALOGS.get("zh")
    settings = ChatSettings(forbid=frozenset({Segment.FACE, Segment.OBJECT}))
    assert "禁止：面部、主体" in messages.settings_text(settings, tr, allowed=0)
    breaches = [Breach(Segment.FACE, forbidden=True), Breach(Segment.CLOTHING, forbidden=False)]
    assert "禁止出现；照片" in messages.breach_warning(breaches, tr)
    limited = messages.limit_reached(QuotaExceeded("user", 3, MIDNIGHT), tr, _wait(1, 0))
    assert "。检查次数" in limited
    assert "部位" not in "".join(_everyday(tr))


def test_traditional_chinese_uses_its_own_punctuation_and_words() -> None:
    tr = CATALOGS.get("zh-hant")
    settings = ChatSettings(forbid=frozenset({Segment.FACE, Segment.OBJECT}))
    assert "禁止：臉部、主體" in messages.settings_text(settings, tr, allowed=0)
    breaches = [Breach(Segment.FACE, forbidden=True)]
    assert "照片中有「臉部」" in messages.breach_warning(breaches, tr)
    limited = messages.limit_reached(QuotaExceeded("user", 3, MIDNIGHT), tr, _wait(1, 0))
    assert "。檢查次數" in limited


# Frequent characters this bot's Chinese uses that differ between the scripts, pair by
# pair: a line pasted from one catalog into the other shows up here.
SIMPLIFIED = (
    "图检张这发设删说时间门问题机个们识别务权员审数录单举报处据错误请试还没达过将压缩转换为"
)
TRADITIONAL = (
    "圖檢張這發設刪說時間門問題機個們識別務權員審數錄單舉報處據錯誤請試還沒達過將壓縮轉換為"
)


@pytest.mark.parametrize(
    ("language", "own", "foreign"),
    [("zh", SIMPLIFIED, TRADITIONAL), ("zh-hant", TRADITIONAL, SIMPLIFIED)],
)
def test_each_chinese_keeps_to_its_script(language: str, own: str, foreign: str) -> None:
    assert all(s != t for s, t in zip(SIMPLIFIED, TRADITIONAL, strict=True))
    tr = CATALOGS.get(language)
    text = set("".join([*_everyday(tr), *_commands(tr)]))
    assert len(text & set(own)) > len(own) // 2, "the pairs are the ones these texts use"
    assert not text & set(foreign)


# Issue 22, point 5: the words of Russian and Chinese as their readers write them.
# Russian's three forms by count: one (1, 21), few (2, 22), many (5, 11, 25).
RUSSIAN_FORM = {1: 0, 2: 1, 5: 2, 11: 2, 21: 0, 22: 1, 25: 2}
CHECKS = ("проверку", "проверки", "проверок")  # what was used up ("сделали 21 проверку")
WARNINGS = ("предупреждение", "предупреждения", "предупреждений")
IMAGES = ("изображение", "изображения", "изображений")
MINUTES = ("минута", "минуты", "минут")
MINUTES_FOR = ("минуту", "минуты", "минут")  # after «на» and «через»: «на 21 минуту»
DAYS = ("день", "дня", "дней")
MEGAPIXELS = ("мегапиксель", "мегапикселя", "мегапикселей")
OF_IMAGES = ("изображения", "изображений", "изображений")  # «проверки 1 изображения»
OF_SEGMENTS = ("сегмента", "сегментов", "сегментов")  # «из 21 сегмента»


def _plurals(count: int, tr: Translations) -> Iterator[tuple[str, tuple[str, str, str]]]:
    """Every sentence whose words follow a count, rendered for `count`, with its forms."""
    for scope in ("user", "group", "global"):
        yield messages.limit_reached(QuotaExceeded(scope, count, MIDNIGHT), tr, MIDNIGHT), CHECKS
    yield messages.group_limit_operator(CHAT, -100500, count, tr), CHECKS
    yield messages.warnings_report(AUTHOR, count, 30, tr), WARNINGS
    yield messages.menu_label(menu.NOTHING, False, ChatSettings(warn_limit=count), tr), WARNINGS
    yield messages.settings_text(ChatSettings(), tr, allowed=count), IMAGES
    yield messages.duration(count * 60, tr), MINUTES
    yield messages.duration(count * 86400, tr), DAYS
    mute = ChatSettings(penalty=Penalty.MUTE, penalty_seconds=count * 60)
    yield messages.penalty_notice(AUTHOR, mute, 3, tr), MINUTES_FOR
    yield messages.penalty_text(mute, tr), MINUTES_FOR
    wait = MIDNIGHT - timedelta(minutes=count)
    yield messages.quota_report(Remaining(1, 1, MIDNIGHT), tr, wait), MINUTES_FOR
    yield messages.megapixels(count * 1_000_000, tr), MEGAPIXELS
    outcomes = [Recognized(_result(1, 4))] * count
    yield messages.album_reply(outcomes, tr, MIDNIGHT), OF_IMAGES
    if count >= 4:  # a result names the 4 known segments at least
        yield summarize(_result(4, count), tr), OF_SEGMENTS


@pytest.mark.parametrize("count", sorted(RUSSIAN_FORM))
def test_russian_plurals_for_every_counted_sentence(count: int) -> None:
    tr = CATALOGS.get("ru")
    for text, forms in _plurals(count, tr):
        wanted = forms[RUSSIAN_FORM[count]]
        assert re.search(rf"(?<!\d){count} {wanted}(?!\w)", text), (wanted, text)


@pytest.mark.parametrize("count", sorted(RUSSIAN_FORM))
def test_chinese_counts_keep_one_form_with_their_measure_word(count: int) -> None:
    for language, wanted in (
        ("zh", ["次检查", "次警告", "张图片", "分钟", "天", "万像素"]),
        ("zh-hant", ["次檢查", "次警告", "張圖片", "分鐘", "天", "萬像素"]),
    ):
        text = "\n".join(text for text, _forms in _plurals(count, CATALOGS.get(language)))
        number = str(count * 100) if wanted[-1] in ("万像素", "萬像素") else str(count)
        for word in wanted[:-1]:
            assert f"{count} {word}" in text, (language, word)
        assert f"{number} {wanted[-1]}" in text


@pytest.mark.parametrize("count", [1, 3, 21])
def test_russian_penalty_notice_reads_as_russian(count: int) -> None:
    """The name stays as written (never «Участнику Иван»), the length follows «на» in
    the accusative, the count is an ordinal (after the third warning), and a penalty
    without end is «навсегда», never «на навсегда»."""
    tr = CATALOGS.get("ru")
    mute = ChatSettings(penalty=Penalty.MUTE, penalty_seconds=90 * 60)
    assert messages.penalty_notice("Иван", mute, count, tr) == (
        f"⛔ Иван: запрет писать на 1 час 30 минут после {count}-го предупреждения."
    )
    ban = ChatSettings(penalty=Penalty.BAN, penalty_seconds=0)
    assert messages.penalty_notice("Иван", ban, count, tr) == (
        f"⛔ Иван: блокировка навсегда после {count}-го предупреждения."
    )
    assert "затем блокировка навсегда" in messages.settings_text(ban, tr, allowed=0)
    english = messages.penalty_notice("Ann", mute, count, CATALOGS.get("en"))
    assert english.startswith("⛔ Ann is muted (1 hour 30 minutes) after")


@pytest.mark.parametrize(
    ("language", "pixels", "expected"),
    [
        ("en", 12_500_000, "I can check at most 12.5 megapixels."),
        ("en", 300_000, "I can check at most 0.3 megapixels."),
        ("en", 1_000_000, "I can check at most 1 megapixel."),
        ("en", 12_345_678, "I can check at most 12.35 megapixels."),
        # A fraction takes the genitive singular, whatever its last digit.
        ("ru", 12_500_000, "мой предел — 12,5 мегапикселя."),
        ("ru", 300_000, "мой предел — 0,3 мегапикселя."),
        ("ru", 21_000_000, "мой предел — 21 мегапиксель."),
        ("ru", 50_000_000, "мой предел — 50 мегапикселей."),
        # Chinese counts in 万 (ten thousand pixels): 12.5 megapixels is 1250 万像素.
        ("zh", 12_500_000, "上限（1250 万像素）。"),
        ("zh", 300_000, "上限（30 万像素）。"),
        ("zh", 125_000, "上限（12.5 万像素）。"),
        ("zh-hant", 12_500_000, "上限（1250 萬像素）。"),
        ("zh-hant", 300_000, "上限（30 萬像素）。"),
    ],
)
def test_a_limit_that_is_not_a_whole_number(language: str, pixels: int, expected: str) -> None:
    tr = CATALOGS.get(language)
    for reason in (images.TooManyPixels(8000, 8000, pixels), images.TooManyPixels(limit=pixels)):
        assert expected in messages.refusal(reason, tr)


def _catalog_strings(language: str) -> Iterator[str]:
    with catalog_path(language).open("rb") as po:
        for message in read_po(po, locale=locale_of(language)):
            if message.id:
                yield from message.string if isinstance(message.string, tuple) else [message.string]


def test_russian_never_hedges_a_gender() -> None:
    """A verb with a bracketed feminine ending reads as a form to fill in: a verb agrees
    with a noun instead («Это уже сделал админ {admin}»), or the person has no verb."""
    hedge = re.compile(r"\w\([а-яё]{1,3}\)")
    assert [text for text in _catalog_strings("ru") if hedge.search(text)] == []
    rendered = [*_everyday(CATALOGS.get("ru")), *_commands(CATALOGS.get("ru"))]
    assert [text for text in rendered if hedge.search(text)] == []
    assert hedge.search("Уже сделал" + "(а)"), "the check catches the old wording"


@pytest.mark.parametrize(("language", "word"), [("zh", "运营方"), ("zh-hant", "營運方")])
def test_chinese_names_the_operator_as_a_party(language: str, word: str) -> None:
    strings = list(_catalog_strings(language))
    assert not [text for text in strings if "运营者" in text or "營運者" in text]
    assert word in messages.not_allowed(CATALOGS.get(language))
