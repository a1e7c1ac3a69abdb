"""Group moderation without Telegram: the chat's settings and the verdict on a result
(`settings`), the commands that change them (`commands`), who may do what (`rights`),
button data (`callbacks`), the report record (`report`), its own storage protocol
(`store`), and `plan`, which decides what happens to a post. bot/tg/ carries plans out.

This package imports nothing from `telegram` (the lint enforces it).
"""

from bot.moderation.settings import (
    DEFAULT_PENALTY_SECONDS,
    DEFAULT_WARN_LIMIT,
    MAX_PENALTY_SECONDS,
    MAX_WARN_LIMIT,
    MIN_PENALTY_SECONDS,
    SEGMENT_ALIASES,
    WARNING_WINDOW_SECONDS,
    Action,
    Breach,
    ChatSettings,
    Deed,
    Media,
    Mode,
    OnError,
    Penalty,
    Shortfall,
    judge,
    judged_in_group,
    parse_duration,
    parse_segment,
    penalty_deed,
    segment_word,
)

__all__ = [
    "DEFAULT_PENALTY_SECONDS",
    "DEFAULT_WARN_LIMIT",
    "MAX_PENALTY_SECONDS",
    "MAX_WARN_LIMIT",
    "MIN_PENALTY_SECONDS",
    "SEGMENT_ALIASES",
    "WARNING_WINDOW_SECONDS",
    "Action",
    "Breach",
    "ChatSettings",
    "Deed",
    "Media",
    "Mode",
    "OnError",
    "Penalty",
    "Shortfall",
    "judge",
    "judged_in_group",
    "parse_duration",
    "parse_segment",
    "penalty_deed",
    "segment_word",
]
