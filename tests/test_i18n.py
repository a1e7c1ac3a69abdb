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
    """Every message in the code, by its msgid (a plural one by its singular)."""
    found = extract_from_dir(
        str(BOT),
        method_map=[("**.py", "python")],
        keywords={"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)},
    )
    return {message if isinstance(message, str) else message[0] for _, _, message, *_ in found}


def _placeholders(text: object) -> set[str]:
    return set(PLACEHOLDER.findall(str(text)))


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_catalog_translates_every_message(language: str) -> None:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "bot.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    translated = {}
    for message in catalog:
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.id and all(forms) and not message.fuzzy:
            singular = message.id if isinstance(message.id, str) else message.id[0]
            translated[singular] = (message.id, forms)
    missing = _msgids() - set(translated)
    assert not missing, f"untranslated in {language}: {sorted(missing)[:3]}"
    for msgid, forms in translated.values():
        wanted = _placeholders(msgid)
        assert all(_placeholders(form) == wanted for form in forms), msgid


def test_catalogs_hold_no_stale_messages() -> None:
    path = LOCALE_DIR / "ru" / "LC_MESSAGES" / "bot.po"
    with path.open("rb") as po:
        ids = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(po) if m.id}
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
