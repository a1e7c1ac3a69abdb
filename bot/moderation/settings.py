"""Per-chat moderation settings, the verdict a policy gives on a result, and what a
breach leads to (warnings, then a mute or a ban)."""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, field, replace

from bot.recognition.results import RecognitionResult, Segment

# A warning counts towards the limit for 30 days, as in the bots admins already know
# (Rose, GroupButler): long enough to catch a pattern, short enough to forgive.
WARNING_WINDOW_SECONDS = 30 * 24 * 3600
DEFAULT_WARN_LIMIT = 3
DEFAULT_PENALTY_SECONDS = 24 * 3600
# Telegram treats a restriction under 30 s or over 366 days as forever.
MIN_PENALTY_SECONDS = 30
MAX_PENALTY_SECONDS = 366 * 24 * 3600
MAX_WARN_LIMIT = 100


class Mode(enum.StrEnum):
    """Whether photos are judged, and whether the verdict is acted on."""

    OFF = "off"
    ON = "on"
    DRY = "dry"  # judged and reported to the admins; nothing happens in the group


class Action(enum.StrEnum):
    """What happens to a photo that breaks the chat's policy."""

    WARN = "warn"
    DELETE = "delete"
    REPORT = "report"


class Penalty(enum.StrEnum):
    """What the warning limit leads to."""

    MUTE = "mute"
    BAN = "ban"


class OnError(enum.StrEnum):
    """What happens to a photo the bot cannot judge (too small, API down, limit used up)."""

    ALLOW = "allow"  # logged only
    REPORT = "report"  # the admins get a report with the reason


class Deed(enum.StrEnum):
    """What the bot did to a post (and what Undo takes back)."""

    WARNED = "warned"
    DELETED = "deleted"
    MUTED = "muted"
    BANNED = "banned"


class Shortfall(enum.StrEnum):
    """An action the bot should have taken but lacks the right for."""

    CANNOT_DELETE = "cannot_delete"
    CANNOT_RESTRICT = "cannot_restrict"


def penalty_deed(penalty: Penalty) -> Deed:
    """The deed a penalty is recorded as."""
    return Deed.BANNED if penalty is Penalty.BAN else Deed.MUTED


# Names people type for each segment, first one canonical.
SEGMENT_ALIASES: dict[Segment, tuple[str, ...]] = {
    Segment.HEAD: ("head", "heads", "hair"),
    Segment.FACE: ("face", "faces"),
    Segment.CLOTHING: ("clothing", "clothes", "cloth", "outfit"),
    Segment.OBJECT: ("object", "objects", "subject", "main"),
}
_BY_ALIAS = {alias: segment for segment, names in SEGMENT_ALIASES.items() for alias in names}
_DURATION = re.compile(r"^(\d{1,6})([mhdw])$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_segment(word: str) -> Segment | None:
    """A segment from a name a person typed, or None if unknown."""
    return _BY_ALIAS.get(word.strip().lower())


def segment_word(segment: Segment) -> str:
    """The canonical command word for a segment."""
    return SEGMENT_ALIASES[segment][0]


def parse_duration(word: str) -> int | None:
    """Seconds from `30m`, `12h`, `7d`, `2w`, or 0 for `forever`; None if malformed or
    outside what Telegram accepts (30 s to 366 days)."""
    word = word.strip().lower()
    if word == "forever":
        return 0
    match = _DURATION.match(word)
    if match is None:
        return None
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return seconds if MIN_PENALTY_SECONDS <= seconds <= MAX_PENALTY_SECONDS else None


@dataclass(frozen=True)
class ChatSettings:
    """Everything a chat's admins set, and the chat's count of photos left unchecked."""

    mode: Mode = Mode.OFF
    forbid: frozenset[Segment] = field(default_factory=frozenset)
    require: frozenset[Segment] = field(default_factory=frozenset)
    action: Action = Action.WARN
    language: str | None = None
    warn_limit: int = DEFAULT_WARN_LIMIT
    penalty: Penalty = Penalty.MUTE
    penalty_seconds: int = DEFAULT_PENALTY_SECONDS  # 0: forever
    on_error: OnError = OnError.REPORT
    unchecked: int = 0
    # Files that are not images (PDF, archives) and animations are ignored in groups
    # unless the admins ask: most are not photos of people, and each would otherwise be
    # "a photo I could not check" in every admin's private chat (issue 19).
    check_files: bool = False

    @property
    def moderating(self) -> bool:
        """Whether posted photos are judged at all (on, or a dry run)."""
        return self.mode is not Mode.OFF

    def forbidding(self, segment: Segment) -> ChatSettings:
        """A copy where `segment` must not appear."""
        return replace(self, forbid=self.forbid | {segment}, require=self.require - {segment})

    def requiring(self, segment: Segment) -> ChatSettings:
        """A copy where `segment` must appear."""
        return replace(self, require=self.require | {segment}, forbid=self.forbid - {segment})

    def allowing(self, segment: Segment) -> ChatSettings:
        """A copy with no rule for `segment`."""
        return replace(self, forbid=self.forbid - {segment}, require=self.require - {segment})

    def to_json(self) -> str:
        """Stable JSON for storage."""
        return json.dumps(
            {
                "mode": self.mode.value,
                "forbid": sorted(s.value for s in self.forbid),
                "require": sorted(s.value for s in self.require),
                "action": self.action.value,
                "language": self.language,
                "warn_limit": self.warn_limit,
                "penalty": self.penalty.value,
                "penalty_seconds": self.penalty_seconds,
                "on_error": self.on_error.value,
                "unchecked": self.unchecked,
                "check_files": self.check_files,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ChatSettings:
        """Read what `to_json` wrote (and the older `"moderate": true`); unknown fields are
        ignored."""
        raw = json.loads(text)
        mode = raw.get("mode") or (Mode.ON if raw.get("moderate") else Mode.OFF)
        return cls(
            mode=Mode(mode),
            forbid=frozenset(Segment(v) for v in raw.get("forbid", [])),
            require=frozenset(Segment(v) for v in raw.get("require", [])),
            action=Action(raw.get("action", Action.WARN.value)),
            language=raw.get("language"),
            warn_limit=int(raw.get("warn_limit", DEFAULT_WARN_LIMIT)),
            penalty=Penalty(raw.get("penalty", Penalty.MUTE.value)),
            penalty_seconds=int(raw.get("penalty_seconds", DEFAULT_PENALTY_SECONDS)),
            on_error=OnError(raw.get("on_error", OnError.REPORT.value)),
            unchecked=int(raw.get("unchecked", 0)),
            check_files=bool(raw.get("check_files", False)),
        )


@dataclass(frozen=True)
class Breach:
    """One rule a photo breaks: a forbidden segment found, or a required one missing."""

    segment: Segment
    forbidden: bool


def judge(settings: ChatSettings, result: RecognitionResult) -> list[Breach]:
    """The rules `result` breaks, in segment order; empty when the photo passes.

    A segment the API did not report counts as absent.
    """
    breaches = []
    for segment in Segment:
        present = result.contains(segment) is True
        if segment in settings.forbid and present:
            breaches.append(Breach(segment, forbidden=True))
        elif segment in settings.require and not present:
            breaches.append(Breach(segment, forbidden=False))
    return breaches


class Media(enum.StrEnum):
    """What a group message carries, as far as moderation tells them apart."""

    PHOTO = "photo"
    IMAGE_FILE = "image file"  # a document that says it is an image
    OTHER_FILE = "other file"  # PDF, archive, anything else sent as a file
    ANIMATION = "animation"  # GIF or its MP4 form


def judged_in_group(media: Media, settings: ChatSettings) -> bool:
    """Whether a moderated group's post of `media` is judged at all. Stickers and videos
    never reach here: they are not images the recognition API can take, and nobody
    asked for them to be judged."""
    return media in (Media.PHOTO, Media.IMAGE_FILE) or settings.check_files
