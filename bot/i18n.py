"""Languages: gettext catalogs (bot/locales/<lang>/LC_MESSAGES/bot.po) and the choice of one."""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterable
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

Translations = gettext.NullTranslations

DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "ru", "zh")
LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "zh": "中文"}
LOCALE_DIR = Path(__file__).with_name("locales")
DOMAIN = "bot"


def N_(message: str) -> str:
    """Mark a string for the catalogs without translating it here."""
    return message


class Catalogs:
    """Every language's translations, compiled in memory from the .po files at start-up."""

    def __init__(self, locale_dir: Path = LOCALE_DIR) -> None:
        self._translations: dict[str, Translations] = {DEFAULT_LANGUAGE: gettext.NullTranslations()}
        for language in LANGUAGES:
            if language == DEFAULT_LANGUAGE:
                continue
            path = locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"
            with path.open("rb") as po:
                catalog = read_po(po, locale=language)
            compiled = io.BytesIO()
            write_mo(compiled, catalog)
            compiled.seek(0)
            self._translations[language] = gettext.GNUTranslations(compiled)

    def get(self, language: str) -> Translations:
        """The translations for `language` (English for anything unknown)."""
        return self._translations.get(language, self._translations[DEFAULT_LANGUAGE])


def pick_language(chat_choice: str | None, user_language_code: str | None) -> str:
    """The chat's /lang choice if set, else the person's Telegram language, else English.

    Any regional or script variant counts as its language, so Traditional Chinese
    (zh-hant, zh-tw, zh-hk, zh-mo) reads the Simplified catalog: most Traditional
    readers read Simplified far more easily than English, and the texts are short.
    """
    if chat_choice in LANGUAGES:
        return chat_choice
    code = (user_language_code or "").lower().replace("_", "-")
    for language in LANGUAGES:
        if code == language or code.startswith(f"{language}-"):
            return language
    return DEFAULT_LANGUAGE


def language_of(tr: Translations) -> str:
    """The language `tr` translates into (its catalog's Language header); English for none."""
    return tr.info().get("language", DEFAULT_LANGUAGE)


def decimal(value: float, digits: int, tr: Translations) -> str:
    """`value` rounded to `digits` decimals as the reader writes it: 25.3, in Russian 25,3."""
    pattern = "0." + "0" * digits if digits else "0"
    return format_decimal(value, format=pattern, locale=language_of(tr))


def join(items: Iterable[str], tr: Translations) -> str:
    """A list in the reader's punctuation: "a, b"; Chinese uses the enumeration comma, "a、b"."""
    return tr.gettext(", ").join(items)
