"""The Telegram layer: the only package that imports `telegram`.

Updates come in through `routes` (one ordered handler table), are admitted by
`admission`, routed to `photos` or `chat_commands`, and every answer, notice or
action leaves through `outbox`. Below this package the bot works on plain values.
"""
