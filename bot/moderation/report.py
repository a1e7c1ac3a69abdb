"""The record behind a report's buttons: where and whose the post was, and what was done
to it. Kept in storage as JSON, so a press works on any replica and after a restart."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field

from bot.moderation.callbacks import Verb
from bot.moderation.settings import Deed

REPORT_DAYS = 7
REPORT_SECONDS = REPORT_DAYS * 24 * 3600


@dataclass(frozen=True)
class Report:
    """What the buttons need: where and whose the post was, and what was done to it."""

    chat_id: int
    chat_title: str
    message_id: int
    author_id: int | None  # a person, or the channel a post was made as
    author_is_chat: bool
    author_name: str
    file_id: str
    document: bool
    image_keys: tuple[str, ...]
    caption: str
    language: str
    deeds: tuple[Deed, ...] = ()
    warned_at: float | None = None
    warning_message_id: int | None = None
    report_id: str = field(default_factory=lambda: secrets.token_hex(6))
    created_at: float = field(default_factory=time.time)
    sent: tuple[tuple[int, int], ...] = ()
    thread_id: int | None = None  # the forum topic the post was in (absent in older records)

    def verbs(self) -> tuple[Verb, ...]:
        """The buttons that make sense for this report."""
        wanted = {
            Verb.UNDO: bool(self.deeds),
            Verb.ALLOW: bool(self.image_keys),
            Verb.BAN: self.author_id is not None and Deed.BANNED not in self.deeds,
        }
        return tuple(verb for verb in Verb if wanted[verb])

    def expired(self, now: float) -> bool:
        """Whether its buttons no longer act (7 days after it was made)."""
        return now - self.created_at > REPORT_SECONDS

    def to_json(self) -> str:
        """For storage."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Report:
        """Read what `to_json` wrote (records written before a field existed get its
        default)."""
        raw = json.loads(text)
        raw["deeds"] = tuple(Deed(deed) for deed in raw["deeds"])
        raw["image_keys"] = tuple(raw["image_keys"])
        raw["sent"] = tuple((int(chat), int(message)) for chat, message in raw["sent"])
        return cls(**raw)
