"""One image's path: an `IncomingImage` in, an `Outcome` out; checks, decoding in bounded
workers, the cache, near-duplicates, quotas and budgets. No Telegram, no HTTP of its own."""
