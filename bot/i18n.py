"""Languages: gettext catalogs (bot/locales/<lang>/LC_MESSAGES/bot.po) and the choice of one."""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterable
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

Translations = gettext.NullTranslations

DEFAULT_LANGUAGE = "en"
# As people type them after /lang; zh is Simplified Chinese, zh-hant Traditional.
LANGUAGES = ("en", "ru", "zh", "zh-hant")
LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "zh": "简体中文", "zh-hant": "繁體中文"}
LOCALE_DIR = Path(__file__).with_name("locales")
DOMAIN = "bot"
# Subtags that mark Chinese written in Traditional characters: the script itself, or
# Taiwan, Hong Kong and Macau, where Traditional is the norm (zh-TW, zh-HK, zh-MO).
_TRADITIONAL = frozenset({"hant", "tw", "hk", "mo"})


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
            with catalog_path(language, locale_dir).open("rb") as po:
                catalog = read_po(po, locale=locale_of(language))
            compiled = io.BytesIO()
            write_mo(compiled, catalog)
            compiled.seek(0)
            self._translations[language] = gettext.GNUTranslations(compiled)

    def get(self, language: str) -> Translations:
        """The translations for `language` (English for anything unknown)."""
        return self._translations.get(language, self._translations[DEFAULT_LANGUAGE])


def locale_of(language: str) -> str:
    """The Babel locale of one of LANGUAGES, which also names its catalog's folder:
    zh-hant is zh_Hant."""
    return str(Locale.parse(language, sep="-"))


def catalog_path(language: str, locale_dir: Path = LOCALE_DIR) -> Path:
    """Where the .po catalog of one of LANGUAGES lives."""
    return locale_dir / locale_of(language) / "LC_MESSAGES" / f"{DOMAIN}.po"


def pick_language(chat_choice: str | None, user_language_code: str | None) -> str:
    """The chat's /lang choice if set, else the person's Telegram language, else English.

    Any regional variant counts as its language (ru-RU is ru). Chinese goes by script:
    zh-hant, zh-TW, zh-HK and zh-MO read Traditional characters, every other Chinese
    code (zh, zh-hans, zh-CN, zh-SG) Simplified.
    """
    if chat_choice in LANGUAGES:
        return chat_choice
    subtags = (user_language_code or "").lower().replace("_", "-").split("-")
    if subtags[0] == "zh" and "hans" not in subtags and _TRADITIONAL & set(subtags):
        return "zh-hant"
    if subtags[0] in LANGUAGES:
        return subtags[0]
    return DEFAULT_LANGUAGE


def language_of(tr: Translations) -> str:
    """The language `tr` translates into (its catalog's Language header); English for none."""
    return tr.info().get("language", DEFAULT_LANGUAGE)


def decimal(value: float, digits: int, tr: Translations, *, trim: bool = False) -> str:
    """`value` rounded to `digits` decimals as the reader writes it: 25.3, in Russian 25,3;
    `trim` drops the zeros a fraction ends with (12.5 and 50, not 12.50 and 50.00)."""
    pattern = "0." + ("#" if trim else "0") * digits if digits else "0"
    return format_decimal(value, format=pattern, locale=language_of(tr))


def join(items: Iterable[str], tr: Translations) -> str:
    """A list in the reader's punctuation: "a, b"; Chinese uses the enumeration comma, "a、b"."""
    return tr.gettext(", ").join(items)
