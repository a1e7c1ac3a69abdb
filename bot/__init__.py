"""Telegram bot that reports which segments Kling's image-recognize API finds in a photo."""

from importlib import metadata

DISTRIBUTION = "photo-segment-bot"


def version() -> str:
    """The installed package's version (pyproject.toml), or "unknown" when run from a
    source tree that was never installed."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"
