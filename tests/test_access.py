"""Allow-lists: people in private chats, chats in groups; bot admins always."""

from __future__ import annotations

from bot.access import Access


def test_empty_lists_allow_everyone() -> None:
    assert Access().allows(user_id=1, chat_id=1, private=True)
    assert Access().allows(user_id=1, chat_id=-5, private=False)


def test_lists_filter_people_and_groups() -> None:
    access = Access(
        allowed_users=frozenset({1}), allowed_chats=frozenset({-5}), bot_admins=frozenset({9})
    )
    assert access.allows(user_id=1, chat_id=1, private=True)
    assert not access.allows(user_id=2, chat_id=2, private=True)
    assert access.allows(user_id=2, chat_id=-5, private=False)
    assert not access.allows(user_id=1, chat_id=-6, private=False)
    assert access.allows(user_id=9, chat_id=-6, private=False)
    assert access.is_bot_admin(9)
    assert not access.is_bot_admin(None)
