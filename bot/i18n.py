"""Languages: gettext catalogs (bot/locales/<lang>/LC_MESSAGES/bot.po) and the choice of one."""

from __future__ import annotations

import gettext
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

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
    """The chat's /lang choice if set, else the person's Telegram language, else English."""
    if chat_choice in LANGUAGES:
        return chat_choice
    code = (user_language_code or "").lower()
    for language in LANGUAGES:
        if code == language or code.startswith(f"{language}-"):
            return language
    return DEFAULT_LANGUAGE
