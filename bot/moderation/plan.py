"""What to do about one author's posts: a pure function of the verdict, who posted, the
chat's settings, the bot's rights and the author's history. No I/O and no Telegram; the
tg layer gathers these facts, calls `plan`, and carries the plan out.

The plan says why when it does nothing, and what it could not do for want of a right,
so a report can tell the admins.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.moderation.rights import Member, Right
from bot.moderation.settings import (
    Action,
    ChatSettings,
    Deed,
    Mode,
    OnError,
    Penalty,
    Shortfall,
    penalty_deed,
)

# -- the facts ---------------------------------------------------------------------------


class PosterKind(enum.StrEnum):
    """Who posted, as far as moderation cares."""

    MEMBER = "member"
    CHANNEL = "channel"  # a member posting as one of their channels: can only be banned
    EXEMPT = "exempt"  # the chat's admins, anonymous admins, bots, the linked channel
    UNKNOWN = "unknown"  # the admin list could not be read: it may be an admin


@dataclass(frozen=True)
class Poster:
    """The author of the posts, and the id a sanction would target (None: nobody)."""

    kind: PosterKind
    id: int | None = None


@dataclass(frozen=True)
class Passed:
    """Every post keeps the rules."""


@dataclass(frozen=True)
class Allowed:
    """The posts break the rules, but an admin allowed the image."""


@dataclass(frozen=True)
class Breaks:
    """The posts break the rules."""


@dataclass(frozen=True)
class Unchecked:
    """The bot could not judge the post (too small, the API failing, a limit used up).
    `not_an_image`: a file that said it was an image, whose bytes are none (a PDF named
    x.png): what its sender claimed does not make it one."""

    not_an_image: bool = False


@dataclass(frozen=True)
class OverGroupLimit:
    """The group's daily limit is used up; `first` for the first such post of the day."""

    first: bool


Verdict = Passed | Allowed | Breaks | Unchecked | OverGroupLimit


@dataclass(frozen=True)
class History:
    """The author's warnings in the window before these posts."""

    warnings: int = 0


# -- the plan ----------------------------------------------------------------------------


class Reason(enum.StrEnum):
    """Why nothing is done."""

    OFF = "moderation off"
    EXEMPT = "poster exempt"
    PASSED = "passed"
    ALLOWED = "image allowed"
    LET_THROUGH = "unchecked, let through"
    LIMIT_TOLD = "over the group's limit, already reported today"
    NOT_AN_IMAGE = "a file that is no image, in a group that checks no files"


@dataclass(frozen=True)
class Nothing:
    """Nothing happens, and nobody is told."""

    reason: Reason


@dataclass(frozen=True)
class Unsure:
    """Whether the poster is moderated cannot be confirmed: nothing happens in the group;
    the admins are told (once per group per hour) and it is counted."""


@dataclass(frozen=True)
class ReportOnly:
    """The admins get a report with the reason; nothing happens in the group."""

    dry: bool


@dataclass(frozen=True)
class Sanction:
    """A mute or ban at the warning limit."""

    penalty: Penalty
    seconds: int  # 0: until lifted

    @property
    def deed(self) -> Deed:
        """What it is recorded as."""
        return penalty_deed(self.penalty)


@dataclass(frozen=True)
class Enforce:
    """Act on posts that break the rules (in a dry run: only report what would be done).

    `delete`: remove the posts; one that cannot be removed is warned instead.
    `warn`: reply to the posts with a warning.
    `warnings`: (the author's count with this one, the limit) when a warning counts.
    `sanction`: the mute or ban the limit brings, if the bot can apply it.
    `shortfalls`: what the bot should have done but lacks the right for.
    """

    dry: bool
    delete: bool
    warn: bool
    warnings: tuple[int, int] | None
    sanction: Sanction | None
    shortfalls: tuple[Shortfall, ...]

    @property
    def deeds(self) -> tuple[Deed, ...]:
        """What the plan does to the posts and their author, in order."""
        deeds = [Deed.DELETED] if self.delete else []
        deeds += [Deed.WARNED] if self.warn else []
        deeds += [self.sanction.deed] if self.sanction else []
        return tuple(deeds)


Plan = Nothing | Unsure | ReportOnly | Enforce


def plan(
    verdict: Verdict,
    poster: Poster,
    settings: ChatSettings,
    bot: Member | None,
    history: History,
) -> Plan:
    """What to do about one author's posts in a group; `bot` None when the bot's own rights
    could not be read (then, as for a poster nobody could place, nothing is done)."""
    if not settings.moderating:
        return Nothing(Reason.OFF)
    match poster.kind:
        case PosterKind.EXEMPT:
            return Nothing(Reason.EXEMPT)
        case PosterKind.UNKNOWN:
            return Unsure()
        case PosterKind.MEMBER | PosterKind.CHANNEL:
            pass
    if bot is None:
        return Unsure()
    dry = settings.mode is Mode.DRY
    match verdict:
        case Passed():
            return Nothing(Reason.PASSED)
        case Allowed():
            return Nothing(Reason.ALLOWED)
        case Unchecked(not_an_image=True) if not settings.check_files:
            # Left alone like any PDF: else five renamed PDFs were five reports to every
            # admin, a flood no limit capped.
            return Nothing(Reason.NOT_AN_IMAGE)
        case Unchecked():
            if settings.on_error is OnError.ALLOW:
                return Nothing(Reason.LET_THROUGH)
            return ReportOnly(dry)
        case OverGroupLimit(first):
            # One report a day says the limit is used up; more would let any member
            # flood every admin's private chat (15 photos made 15 reports).
            if not first:
                return Nothing(Reason.LIMIT_TOLD)
            if settings.on_error is OnError.ALLOW:
                return Nothing(Reason.LET_THROUGH)
            return ReportOnly(dry)
        case Breaks():
            return _enforce(poster, settings, bot, history, dry)


def _enforce(
    poster: Poster, settings: ChatSettings, bot: Member, history: History, dry: bool
) -> Enforce:
    shortfalls = []
    delete = settings.action is Action.DELETE and bot.may(Right.DELETE)
    if settings.action is Action.DELETE and not delete:
        shortfalls.append(Shortfall.CANNOT_DELETE)
    # Without the right to delete, a warning still tells the group the photo broke a rule.
    warn = settings.action is Action.WARN or (settings.action is Action.DELETE and not delete)
    warnings = None
    sanction = None
    # A report-only chat keeps no score; an author without an id cannot be counted.
    if settings.action is not Action.REPORT and poster.id is not None:
        count = history.warnings + 1
        warnings = (count, settings.warn_limit)
        if count >= settings.warn_limit:
            # A channel cannot be muted, only banned from posting, and that ban has no end
            # (banChatSenderChat takes no until_date): said as forever, which it is.
            channel = poster.kind is PosterKind.CHANNEL
            penalty = Penalty.BAN if channel else settings.penalty
            if bot.may(Right.RESTRICT):
                sanction = Sanction(penalty, 0 if channel else settings.penalty_seconds)
            else:
                shortfalls.append(Shortfall.CANNOT_RESTRICT)
    return Enforce(dry, delete, warn, warnings, sanction, tuple(shortfalls))
