"""Per-chat settings for groups and the verdict a policy gives on a result."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field, replace

from bot.results import RecognitionResult, Segment


class Action(enum.StrEnum):
    """What happens to a photo that breaks the chat's policy."""

    WARN = "warn"
    DELETE = "delete"
    REPORT = "report"


# Names people type for each segment, first one canonical.
SEGMENT_ALIASES: dict[Segment, tuple[str, ...]] = {
    Segment.HEAD: ("head", "heads", "hair"),
    Segment.FACE: ("face", "faces"),
    Segment.CLOTHING: ("clothing", "clothes", "cloth", "outfit"),
    Segment.OBJECT: ("object", "objects", "subject", "main"),
}
_BY_ALIAS = {alias: segment for segment, names in SEGMENT_ALIASES.items() for alias in names}


def parse_segment(word: str) -> Segment | None:
    """A segment from a name a person typed, or None if unknown."""
    return _BY_ALIAS.get(word.strip().lower())


def segment_word(segment: Segment) -> str:
    """The canonical command word for a segment."""
    return SEGMENT_ALIASES[segment][0]


@dataclass(frozen=True)
class ChatSettings:
    """Everything a chat's admins set; stored per chat."""

    moderate: bool = False
    forbid: frozenset[Segment] = field(default_factory=frozenset)
    require: frozenset[Segment] = field(default_factory=frozenset)
    action: Action = Action.WARN
    language: str | None = None
    told_missing_delete_right: bool = False

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
                "moderate": self.moderate,
                "forbid": sorted(s.value for s in self.forbid),
                "require": sorted(s.value for s in self.require),
                "action": self.action.value,
                "language": self.language,
                "told_missing_delete_right": self.told_missing_delete_right,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ChatSettings:
        """Read what `to_json` wrote; unknown fields are ignored."""
        raw = json.loads(text)
        return cls(
            moderate=bool(raw.get("moderate", False)),
            forbid=frozenset(Segment(v) for v in raw.get("forbid", [])),
            require=frozenset(Segment(v) for v in raw.get("require", [])),
            action=Action(raw.get("action", Action.WARN.value)),
            language=raw.get("language"),
            told_missing_delete_right=bool(raw.get("told_missing_delete_right", False)),
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
