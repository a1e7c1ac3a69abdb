"""Telegram bot that reports which segments Kling's image-recognize API finds in a photo."""
