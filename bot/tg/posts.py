"""A posted image as moderation sees it: who posted it, what is wrong with it, and the
report record made of it."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Message

from bot.i18n import DEFAULT_LANGUAGE
from bot.moderation import Breach, ChatSettings
from bot.moderation.report import Report
from bot.photo.pipeline import IncomingImage, Origin, Source

# An image as it arrived: its message, what Telegram says of it, where it came from.
Item = tuple[Message, IncomingImage, Origin]


def origin_of(message: Message, source: Source, update_id: int | None) -> Origin:
    """The log line's who and where for an image in `message`."""
    user = message.from_user
    return Origin(source, update_id, message.chat_id, user.id if user else None)


def thread_of(message: Message) -> int | None:
    """The forum topic a message is in (None outside forums, and for General): every
    message the bot sends about a post goes to the post's topic."""
    return message.message_thread_id if message.is_topic_message else None


@dataclass(frozen=True)
class Author:
    """Who a post is from: a person, or the channel it was posted as."""

    id: int | None
    is_chat: bool
    name: str


def author_of(message: Message) -> Author:
    """The author a notice names and a sanction targets."""
    if message.sender_chat is not None:
        chat = message.sender_chat
        return Author(chat.id, True, chat.title or chat.username or str(chat.id))
    user = message.from_user
    if user is None:
        return Author(None, False, message.chat.title or "?")
    name = f"{user.full_name} (@{user.username})" if user.username else user.full_name
    return Author(user.id, False, name)


@dataclass(frozen=True)
class Flagged:
    """A posted image that breaks the policy, and how."""

    message: Message
    incoming: IncomingImage
    breaches: list[Breach]
    keys: tuple[str, ...]
    found: str
    near: bool = False  # judged by a near-duplicate's answer (its report says so)


def report_of(
    message: Message,
    incoming: IncomingImage,
    author: Author,
    keys: tuple[str, ...],
    caption: str,
    language: str,
) -> Report:
    """A report record (its caption already written) for one posted image."""
    return Report(
        chat_id=message.chat_id,
        chat_title=message.chat.title or str(message.chat_id),
        message_id=message.message_id,
        author_id=author.id,
        author_is_chat=author.is_chat,
        author_name=author.name,
        file_id=incoming.file_id,
        document=not message.photo,
        image_keys=keys,
        caption=caption,
        language=language,
        thread_id=thread_of(message),
    )


def report_language(settings: ChatSettings) -> str:
    """Reports speak the chat's language if it has one set, never the poster's."""
    return settings.language or DEFAULT_LANGUAGE
