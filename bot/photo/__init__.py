"""One image's path: an `IncomingImage` in, an `Outcome` out; checks, decoding in bounded
workers, the cache, near-duplicates, quotas and budgets, and the cut-outs fetched for an
answer. No Telegram: the download is injected (bot/tg/download.py, or the CLI's files)."""
