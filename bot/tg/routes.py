"""The one ordered handler table, and the command menus each kind of person sees.

Adding a command: a pure change in `commands` (for a setting) or a `cmd_*` method in
`chat_commands`, then one `Command` row here with who sees it in their menu.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
)
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, Catalogs
from bot.tg.chat_commands import Callback, ChatCommands
from bot.tg.chat_events import ChatEvents
from bot.tg.cutout_presses import CutoutButtons
from bot.tg.errors import ErrorHandler
from bot.tg.photos import PhotoRoutes
from bot.tg.presses import ReportPresses
from bot.tg.updates import AnyApplication

logger = logging.getLogger(__name__)


class Menu(enum.Enum):
    """Whose command menu lists a command."""

    PRIVATE = "private chats"
    MEMBERS = "group members"
    ADMINS = "group admins"


_SCOPES: dict[Menu, BotCommandScope] = {
    Menu.PRIVATE: BotCommandScopeAllPrivateChats(),
    Menu.MEMBERS: BotCommandScopeAllGroupChats(),
    Menu.ADMINS: BotCommandScopeAllChatAdministrators(),
}
_EVERYONE = frozenset(Menu)
_GROUPS = frozenset({Menu.MEMBERS, Menu.ADMINS})
_ADMINS = frozenset({Menu.ADMINS})


@dataclass(frozen=True)
class Command:
    """One command: its names, its callback on `ChatCommands`, and its menu entry."""

    names: tuple[str, ...]
    callback: str
    description: str | None = None  # None: answered but listed in no menu
    menus: frozenset[Menu] = frozenset()


COMMANDS: tuple[Command, ...] = (
    Command(("help", "start"), "cmd_help", N_("What I do and which images I accept"), _EVERYONE),
    Command(("check",), "cmd_check", N_("Check the photo this replies to"), _GROUPS),
    Command(("quota",), "cmd_quota", N_("Checks left today"), _EVERYONE),
    Command(("policy",), "cmd_policy", N_("This chat's moderation settings"), _GROUPS),
    Command(("settings",), "cmd_settings", N_("Admins: all settings as buttons"), _ADMINS),
    Command(("moderate",), "cmd_moderate", N_("Admins: moderation on, off or dry run"), _ADMINS),
    Command(("forbid",), "cmd_forbid", N_("Admins: forbid a segment"), _ADMINS),
    Command(("require",), "cmd_require", N_("Admins: require a segment"), _ADMINS),
    Command(("allow",), "cmd_allow", N_("Admins: drop the rule for a segment"), _ADMINS),
    Command(("action",), "cmd_action", N_("Admins: warn, delete or report"), _ADMINS),
    Command(("warnlimit",), "cmd_warnlimit", N_("Admins: warnings before a mute or ban"), _ADMINS),
    Command(("onerror",), "cmd_onerror", N_("Admins: photos I cannot check"), _ADMINS),
    Command(("checkfiles",), "cmd_checkfiles", N_("Admins: also check files and GIFs"), _ADMINS),
    Command(("warns",), "cmd_warns", N_("Admins: a person's warnings (reply)"), _ADMINS),
    Command(("resetwarns",), "cmd_resetwarns", N_("Admins: clear warnings (reply)"), _ADMINS),
    Command(("reload",), "cmd_reload", N_("Admins: reread admins and my rights"), _ADMINS),
    Command(
        ("lang",),
        "cmd_lang",
        N_("Language: en, ru, zh, zh-hant or auto"),
        frozenset({Menu.PRIVATE, Menu.ADMINS}),
    ),
    Command(("stats",), "cmd_stats"),  # the bot's own admins only
)


def menu(which: Menu, catalogs: Catalogs, language: str) -> list[BotCommand]:
    """The commands listed in one menu, described in `language`."""
    tr = catalogs.get(language)
    return [
        BotCommand(command.names[0], tr.gettext(command.description))
        for command in COMMANDS
        if command.description is not None and which in command.menus
    ]


async def set_menus(bot: Bot, catalogs: Catalogs) -> None:
    """Tell Telegram every menu in every language (the default one is English)."""
    for which, scope in _SCOPES.items():
        for language in LANGUAGES:
            if "-" in language:
                # Telegram keys menus by two-letter codes only: zh-hant readers see zh's.
                continue
            code = None if language == DEFAULT_LANGUAGE else language
            await bot.set_my_commands(menu(which, catalogs, language), scope, code)


def register(
    app: AnyApplication,
    *,
    chat_commands: ChatCommands,
    photos: PhotoRoutes,
    presses: ReportPresses,
    cutouts: CutoutButtons,
    chat_events: ChatEvents,
    errors: ErrorHandler,
) -> None:
    """Attach every handler in order. Commands are taken from new messages only; images
    from edited ones too (photos.py decides whether the image changed). Handlers block:
    each update already runs in a task of its own that holds a work slot
    (`BoundedUpdates`) until its handler is done, which is what the bound counts."""

    # Replicas each handed an update store it once: the intake takes it (bot/tg/intake.py).
    new = filters.UpdateType.MESSAGE
    for command in COMMANDS:
        callback: Callback = getattr(chat_commands, command.callback)
        app.add_handler(CommandHandler(command.names, callback, filters=new))
    edited = filters.UpdateType.EDITED_MESSAGE
    images = (new | edited) & (filters.PHOTO | filters.Document.ALL)
    app.add_handler(MessageHandler(images, photos.on_image))
    app.add_handler(CallbackQueryHandler(presses.on_press, pattern=r"^r:"))
    app.add_handler(CallbackQueryHandler(chat_commands.on_confirm, pattern=r"^c:"))
    app.add_handler(CallbackQueryHandler(chat_commands.on_menu_press, pattern=r"^s:"))
    app.add_handler(CallbackQueryHandler(cutouts.on_press, pattern=r"^k:"))
    # Any other button data (forged, or an older bot's) is answered too: an unanswered
    # press leaves the client's spinner turning.
    app.add_handler(CallbackQueryHandler(presses.on_other_press))
    app.add_handler(
        ChatMemberHandler(chat_events.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    app.add_handler(ChatMemberHandler(chat_events.on_chat_member, ChatMemberHandler.CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, chat_events.on_migrate))
    app.add_handler(MessageHandler(new & filters.ChatType.PRIVATE, chat_commands.on_text))
    app.add_error_handler(errors.on_error)
