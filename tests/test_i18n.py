"""Every sentence in the code is translated, with its placeholders intact."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import LANGUAGES, Catalogs, catalog_path, locale_of, pick_language

BOT = Path(__file__).parents[1] / "bot"
PLACEHOLDER = re.compile(r"\{[a-z_]+(?::[^}]*)?\}")
TRANSLATED = [language for language in LANGUAGES if language != "en"]


MessageId = str | tuple[str, str]


def _msgids() -> set[tuple[str | None, MessageId]]:
    """Every message in the code as (context, id), as the catalogs key it: a plural id is
    (singular, plural), so a plural kept as a singular one (or the reverse) counts as missing."""
    # Babel's keywords: _, N_, gettext, ngettext, pgettext, npgettext (as tr.gettext too).
    found = extract_from_dir(str(BOT), method_map=[("**.py", "python")], keywords=DEFAULT_KEYWORDS)
    return {(context, message) for _, _, message, _, context in found}


def _placeholders(text: object) -> set[str]:
    return set(PLACEHOLDER.findall(str(text)))


def _catalog(language: str) -> Catalog:
    with catalog_path(language).open("rb") as po:
        return read_po(po, locale=locale_of(language))


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalog_translates_every_message(language: str) -> None:
    catalog = _catalog(language)
    translated = {}
    for message in catalog:
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.id and all(forms) and not message.fuzzy:
            translated[message.context, message.id] = forms
    missing = _msgids() - set(translated)
    # gettext would never find these, and the reader would get English.
    assert not missing, f"untranslated in {language}: {sorted(map(str, missing))[:3]}"
    for (_, msgid), forms in translated.items():
        wanted = _placeholders(msgid[0] if isinstance(msgid, tuple) else msgid)
        assert all(_placeholders(form) == wanted for form in forms), msgid
        if isinstance(msgid, tuple):
            assert _placeholders(msgid[1]) == wanted, msgid
            assert len(forms) == catalog.num_plurals, msgid


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalogs_hold_no_stale_messages(language: str) -> None:
    assert {(m.context, m.id) for m in _catalog(language) if m.id} == _msgids()


def test_translations_load() -> None:
    catalogs = Catalogs()
    assert catalogs.get("ru").gettext("Face") == "Лицо"
    assert catalogs.get("zh").gettext("Face") == "面部"
    assert catalogs.get("zh-hant").gettext("Face") == "臉部"
    assert catalogs.get("xx").gettext("Face") == "Face"


@pytest.mark.parametrize(
    ("choice", "code", "expected"),
    [
        (None, "ru", "ru"),
        (None, "ru-RU", "ru"),
        (None, "zh", "zh"),
        (None, "zh-hans", "zh"),
        (None, "zh-CN", "zh"),
        (None, "zh-SG", "zh"),
        (None, "zh-Hans-HK", "zh"),
        # Chinese goes by script: these write Traditional characters.
        (None, "zh-hant", "zh-hant"),
        (None, "zh-TW", "zh-hant"),
        (None, "zh-hk", "zh-hant"),
        (None, "zh-mo", "zh-hant"),
        (None, "zh-Hant-TW", "zh-hant"),
        (None, "zh-hant-beta", "zh-hant"),
        (None, "zh_TW", "zh-hant"),
        (None, "zhx", "en"),
        (None, "", "en"),
        (None, "de", "en"),
        (None, None, "en"),
        ("zh", "ru", "zh"),
        ("zh-hant", "zh-CN", "zh-hant"),
        ("xx", "ru", "ru"),
    ],
)
def test_language_choice(choice: str | None, code: str | None, expected: str) -> None:
    assert pick_language(choice, code) == expected
