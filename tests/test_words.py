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

from bot.i18n import Catalogs, Translations, catalog_path, locale_of
from bot.messages import admin_reports, group_admins, group_members, operators, people, units
from bot.messages.summary import summarize
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
from bot.photo import rules
from bot.photo.images import Change, PreparedImage
from bot.photo.outcomes import DeadlineExceeded, DownloadError, Failed, Limited, Recognized, Refused
from bot.photo.quotas import QuotaExceeded, Remaining
from bot.recognition.errors import ErrorKind, RecognitionError
from bot.recognition.results import RecognitionResult, Segment

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
            yield people.limit_reached(QuotaExceeded(scope, count, MIDNIGHT), tr, wait)
        yield people.quota_report(Remaining(count, None, MIDNIGHT), tr, wait)
        yield units.duration(count * 60, tr)
        yield units.duration(count * 3600, tr)
        yield units.duration(count * 86400 + count * 60, tr)
        yield summarize(_result(min(count, 4), max(count, 4)), tr)
        outcomes = [Recognized(_result(1, 4)), Refused(rules.TooSmall(count, 400))] * count
        yield people.album_reply(outcomes[:count], tr, wait)
        settings = ChatSettings(
            mode=Mode.DRY,
            forbid=frozenset({Segment.FACE, Segment.OBJECT}),
            require=frozenset({Segment.CLOTHING, Segment.HEAD}),
            warn_limit=count,
            penalty=Penalty.BAN if count % 2 else Penalty.MUTE,
            penalty_seconds=count * 90 * 60 if count % 3 else 0,
            unchecked=count,
        )
        yield group_admins.settings_saved(settings, tr, allowed=count)
        yield group_members.penalty_notice(AUTHOR, settings, count, tr)
        yield group_admins.warnings_report(AUTHOR, count, count + 1, tr)
        yield admin_reports.report_caption(
            chat=CHAT,
            author=AUTHOR,
            problem=admin_reports.unchecked_problem(
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
    yield group_admins.settings_text(replace(settings, language="zh"), tr, allowed=0)
    for action in Action:
        yield group_admins.settings_text(
            replace(settings, action=action, mode=Mode.ON), tr, allowed=1
        )
    breaches = [Breach(segment, forbidden=segment is Segment.FACE) for segment in Segment]
    yield group_members.breach_warning(breaches, tr)
    yield group_members.removal_notice(AUTHOR, breaches, tr)
    yield admin_reports.breach_problem(breaches, tr)
    for reason in (
        rules.TooSmall(250, 400),
        rules.BadAspectRatio(300, 1000),
        rules.BadAspectRatio(1000, 300),
        rules.TooLargeToDownload(25_300_000, rules.MAX_DOWNLOAD_BYTES),
        rules.TooManyPixels(8000, 8000),
        rules.TooManyPixels(),
        rules.TooLargeToDownload(10**30, rules.MAX_DOWNLOAD_BYTES),
        rules.TooMuchWork(rules.Work.SCANS, 200_000, rules.MAX_SCANS),
        rules.TooMuchWork(rules.Work.MEMORY, 800_000_000, 512_000_000),
        rules.HiddenPayload(),
        rules.CorruptImage(),
        rules.NotAnImage(),
    ):
        yield people.refusal(reason, tr)
    for changes in (
        {Change.CONVERTED, Change.SHRUNK},
        {Change.RECOMPRESSED},
        {Change.CONVERTED, Change.FIRST_FRAME},
    ):
        image = PreparedImage(b"x", "image/png", 2000, 1500, "HEIF", frozenset(changes))
        yield people.change_note(image, tr)
    for kind in ErrorKind:
        yield people.failure(RecognitionError(kind, status=500, code=1, request_id="r"), tr)
    yield people.reply_for(Failed(DownloadError("x")), tr, MIDNIGHT)
    yield people.reply_for(Failed(DeadlineExceeded("x")), tr, MIDNIGHT)
    for can_delete, can_restrict in ((True, True), (False, False)):
        yield group_admins.rights_changed(
            CHAT, group_admins.rights_text(can_delete, can_restrict, tr), tr
        )
    for verb in ("undo", "allow", "ban"):
        yield admin_reports.press_resolution(verb, ADMIN, MIDNIGHT, tr)
        yield admin_reports.press_answer(verb, tr)
    yield (
        admin_reports.Buttons.undo(tr)
        + admin_reports.Buttons.allow(tr)
        + admin_reports.Buttons.ban(tr)
    )
    yield admin_reports.press_expired(tr) + admin_reports.press_already(ADMIN, tr)
    yield admin_reports.press_failed(tr)
    for right in Right:
        yield group_admins.person_lacks_right(right, tr) + group_admins.bot_lacks_right(right, tr)
        yield group_admins.right_name(right, tr)
    yield group_admins.rights_unknown(tr) + group_admins.confirmed_by(ADMIN, tr)
    yield group_admins.confirm_expired(tr) + admin_reports.Buttons.confirm(tr)
    yield group_admins.unsure_notice(CHAT, tr) + admin_reports.limit_reported_once(tr)
    for count in COUNTS:
        yield operators.group_limit_operator(CHAT, -100500, count, tr)
    yield group_admins.settings_text(ChatSettings(check_files=True), tr, allowed=0)
    yield group_admins.menu_expired(tr) + group_admins.menu_sent_privately(tr)
    for settings in (ChatSettings(), _MENU_SETTINGS):
        yield group_admins.menu_text(CHAT, settings, tr, allowed=2)
        for row in menu.rows(settings):
            for option in row:
                yield group_admins.menu_label(option.choice, option.selected, settings, tr)
    yield group_members.restored_caption(ADMIN, AUTHOR, tr) + group_admins.warnings_cleared(
        AUTHOR, tr
    )
    yield people.apology("1234", tr) + people.too_many_at_once(tr) + people.busy(tr)
    yield people.set_aside(tr)
    yield people.quota_report(None, tr, MIDNIGHT) + operators.stats_report({}, {}, 16, tr)
    yield people.not_allowed(tr) + operators.bot_admins_only(tr)
    yield group_admins.allow_list_cleared(tr) + people.check_usage(tr)
    yield people.storage_unavailable(tr)
    yield group_admins.admin_lists_reloaded("", tr)
    yield people.cutouts_button(tr) + people.cutouts_gone_button(tr) + people.cutouts_gone(tr)
    yield people.cutouts_not_yours(tr) + people.cutouts_taken(tr) + people.cutouts_later(tr)
    yield people.cutouts_start_first("🤖", tr)  # the bot's @name
    for kind in [*(segment.value for segment in Segment), "θ"]:
        yield people.segment_name(kind, tr)


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
    yield people.help_text(tr)
    yield people.hint(tr)
    yield group_admins.reply_to_someone("warns", tr)
    yield group_admins.unknown_segment("голова", tr)
    yield group_admins.problem(UnknownSegment("голова"), tr) + group_admins.problem(
        Usage("lang"), tr
    )
    yield group_admins.confirm_anonymous("warns", Right.CHANGE_INFO, tr)
    yield group_admins.menu_start_first("🔗", tr)
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
        yield group_admins.usage(command, tr)


def _latin_words(texts: Iterator[str]) -> set[str]:
    """Latin-letter words outside /commands."""
    return {word for text in texts for word in LATIN.findall(re.sub(r"/[a-z]+", "", text))}


@pytest.mark.parametrize("language", ["ru", "zh", "zh-hant"])
def test_no_english_word_or_unit_leaks(language: str) -> None:
    tr = CATALOGS.get(language)
    allowed = NAMES | UNITS[language]
    assert _latin_words(_everyday(tr)) <= allowed
    assert _latin_words(_commands(tr)) <= allowed | COMMAND_WORDS


MESSAGES = (people, group_members, group_admins, admin_reports, operators, units)


def _answers() -> dict[str, Callable[..., str]]:
    """Every public function of bot/messages/ and every button label, by name."""
    found = {
        f"{module.__name__.rsplit('.', 1)[1]}.{name}": function
        for module in MESSAGES
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if function.__module__ == module.__name__ and not name.startswith("_")
    }
    buttons = inspect.getmembers(admin_reports.Buttons, inspect.isfunction)
    return found | {f"Buttons.{name}": function for name, function in buttons}


def test_the_leak_check_renders_every_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """An answer added to bot/messages/ fails here until `_everyday` or `_commands`
    renders it, so the leak check above covers new sentences too."""
    called: set[str] = set()

    def recording(name: str, function: Callable[..., str]) -> Callable[..., str]:
        def record(*args: object, **kwargs: object) -> str:
            called.add(name)
            return function(*args, **kwargs)

        return record

    answers = _answers()
    assert {"people.limit_reached", "units.duration", "Buttons.undo"} <= set(answers)
    for name, function in answers.items():
        owner, _, attribute = name.rpartition(".")
        wrapped = recording(name, function)
        if owner == "Buttons":
            monkeypatch.setattr(admin_reports.Buttons, attribute, staticmethod(wrapped))
            continue
        # Wherever it is called from: its own module, or another that imported it.
        for module in MESSAGES:
            if getattr(module, attribute, None) is function:
                monkeypatch.setattr(module, attribute, wrapped)
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
        ("zh", ["MB", "像素", f"{rules.MAX_PIXELS // 10_000} 万像素"]),
        ("zh-hant", ["MB", "像素", f"{rules.MAX_PIXELS // 10_000} 萬像素"]),
    ],
)
def test_units_as_decided(language: str, units: list[str]) -> None:
    tr = CATALOGS.get(language)
    text = "\n".join(
        [
            people.help_text(tr),
            people.refusal(rules.TooLargeToDownload(25_300_000, rules.MAX_DOWNLOAD_BYTES), tr),
            people.refusal(rules.TooManyPixels(8000, 8000), tr),
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
    assert people.quota_report(Remaining(1, 1, MIDNIGHT), tr, now).endswith(expected)
    limited = people.limit_reached(QuotaExceeded("user", 3, MIDNIGHT), tr, now)
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
    limited = people.limit_reached(QuotaExceeded("user", count, MIDNIGHT), tr, MIDNIGHT)
    assert checks in limited
    outcomes = [Recognized(_result(1, 4))] * count
    assert people.album_reply(outcomes, tr, MIDNIGHT).splitlines()[0].endswith(images)
    # A result with fewer than 4 segments cannot happen; the plural is checked on its own.
    headline = tr.ngettext(
        "Found {found} of {total} segment in this image:",
        "Found {found} of {total} segments in this image:",
        count,
    ).format(found=1, total=count)
    assert headline.endswith(segments)
    assert units.duration(count * 60, tr) == minutes
    assert f"Список разрешённых: {count} изображени" in group_admins.settings_text(
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
    assert people.limit_reached(QuotaExceeded("user", count, MIDNIGHT), tr, MIDNIGHT).startswith(
        english
    )
    summary = summarize(_result(1, 4), tr)
    assert summary.startswith("Found 1 of 4 segments")
    assert people.album_reply([Refused(rules.NotAnImage())], tr, MIDNIGHT).startswith(
        "Results for 1 image:"
    )


def test_chinese_lists_and_sentences_use_chinese_punctuation() -> None:
    tr = CATALOGS.get("zh")
    settings = ChatSettings(forbid=frozenset({Segment.FACE, Segment.OBJECT}))
    assert "禁止：面部、主体" in group_admins.settings_text(settings, tr, allowed=0)
    breaches = [Breach(Segment.FACE, forbidden=True), Breach(Segment.CLOTHING, forbidden=False)]
    assert "禁止出现；照片" in group_members.breach_warning(breaches, tr)
    limited = people.limit_reached(QuotaExceeded("user", 3, MIDNIGHT), tr, _wait(1, 0))
    assert "。检查次数" in limited
    assert "部位" not in "".join(_everyday(tr))


def test_traditional_chinese_uses_its_own_punctuation_and_words() -> None:
    tr = CATALOGS.get("zh-hant")
    settings = ChatSettings(forbid=frozenset({Segment.FACE, Segment.OBJECT}))
    assert "禁止：臉部、主體" in group_admins.settings_text(settings, tr, allowed=0)
    breaches = [Breach(Segment.FACE, forbidden=True)]
    assert "照片中有「臉部」" in group_members.breach_warning(breaches, tr)
    limited = people.limit_reached(QuotaExceeded("user", 3, MIDNIGHT), tr, _wait(1, 0))
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
        yield people.limit_reached(QuotaExceeded(scope, count, MIDNIGHT), tr, MIDNIGHT), CHECKS
    yield operators.group_limit_operator(CHAT, -100500, count, tr), CHECKS
    yield group_admins.warnings_report(AUTHOR, count, 30, tr), WARNINGS
    yield group_admins.menu_label(menu.NOTHING, False, ChatSettings(warn_limit=count), tr), WARNINGS
    yield group_admins.settings_text(ChatSettings(), tr, allowed=count), IMAGES
    yield units.duration(count * 60, tr), MINUTES
    yield units.duration(count * 86400, tr), DAYS
    mute = ChatSettings(penalty=Penalty.MUTE, penalty_seconds=count * 60)
    yield group_members.penalty_notice(AUTHOR, mute, 3, tr), MINUTES_FOR
    yield group_admins.penalty_text(mute, tr), MINUTES_FOR
    wait = MIDNIGHT - timedelta(minutes=count)
    yield people.quota_report(Remaining(1, 1, MIDNIGHT), tr, wait), MINUTES_FOR
    yield units.megapixels(count * 1_000_000, tr), MEGAPIXELS
    outcomes = [Recognized(_result(1, 4))] * count
    yield people.album_reply(outcomes, tr, MIDNIGHT), OF_IMAGES
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
    assert group_members.penalty_notice("Иван", mute, count, tr) == (
        f"⛔ Иван: запрет писать на 1 час 30 минут после {count}-го предупреждения."
    )
    ban = ChatSettings(penalty=Penalty.BAN, penalty_seconds=0)
    assert group_members.penalty_notice("Иван", ban, count, tr) == (
        f"⛔ Иван: блокировка навсегда после {count}-го предупреждения."
    )
    assert "затем блокировка навсегда" in group_admins.settings_text(ban, tr, allowed=0)
    english = group_members.penalty_notice("Ann", mute, count, CATALOGS.get("en"))
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
    for reason in (rules.TooManyPixels(8000, 8000, pixels), rules.TooManyPixels(limit=pixels)):
        assert expected in people.refusal(reason, tr)


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
    assert word in people.not_allowed(CATALOGS.get(language))
