"""Every sentence in the code is translated, with its placeholders intact."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import LANGUAGES, LOCALE_DIR, Catalogs, pick_language

BOT = Path(__file__).parents[1] / "bot"
PLACEHOLDER = re.compile(r"\{[a-z_]+(?::[^}]*)?\}")


def _msgids() -> set[str]:
    found = extract_from_dir(
        str(BOT),
        method_map=[("**.py", "python")],
        keywords={"_": None, "gettext": None, "N_": None},
    )
    return {message for _, _, message, _, _ in found if isinstance(message, str)}


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_catalog_translates_every_message(language: str) -> None:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "bot.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    missing = _msgids() - set(translated)
    assert not missing, f"untranslated in {language}: {sorted(missing)[:3]}"
    for msgid, text in translated.items():
        assert sorted(PLACEHOLDER.findall(str(msgid))) == sorted(PLACEHOLDER.findall(str(text)))


def test_catalogs_hold_no_stale_messages() -> None:
    path = LOCALE_DIR / "ru" / "LC_MESSAGES" / "bot.po"
    with path.open("rb") as po:
        ids = {m.id for m in read_po(po) if m.id}
    assert ids == _msgids()


def test_translations_load() -> None:
    catalogs = Catalogs()
    assert catalogs.get("ru").gettext("Face") == "Лицо"
    assert catalogs.get("zh").gettext("Face") == "脸"
    assert catalogs.get("xx").gettext("Face") == "Face"


@pytest.mark.parametrize(
    ("choice", "code", "expected"),
    [
        (None, "ru", "ru"),
        (None, "ru-RU", "ru"),
        (None, "zh-hans", "zh"),
        (None, "de", "en"),
        (None, None, "en"),
        ("zh", "ru", "zh"),
        ("xx", "ru", "ru"),
    ],
)
def test_language_choice(choice: str | None, code: str | None, expected: str) -> None:
    assert pick_language(choice, code) == expected
