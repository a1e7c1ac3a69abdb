"""What the recognition API found in an image: shared by the client, the cache, the
summary and the moderation policy, none of which need the HTTP client to read it."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Segment(enum.StrEnum):
    """The segment types Kling documents, by their wire names."""

    HEAD = "head_seg"
    FACE = "face_seg"
    CLOTHING = "cloth_seg"
    OBJECT = "object_seg"


@dataclass(frozen=True)
class RecognitionResult:
    """Which segment types the API reported, by wire name, in the API's order, and how
    many HTTP attempts the call took (for the log; not part of what is compared)."""

    segments: Mapping[str, bool]
    request_id: str | None = None
    attempts: int = field(default=1, compare=False)
    # The cut-out image the API keeps for 30 days, by segment type, when it gives one
    # (Kling's documented `url` per item); fetched only from allowed hosts (bot/photo/cutouts.py).
    cutouts: Mapping[str, str] = field(default_factory=dict, compare=False)

    def contains(self, segment: Segment) -> bool | None:
        """True/False as reported, None when the API did not report this segment."""
        return self.segments.get(segment.value)
