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


def test_a_private_bot_serves_only_listed_groups_unless_all_are_welcome() -> None:
    private = Access(allowed_users=frozenset({1}))
    assert private.allows(user_id=1, chat_id=1, private=True)
    assert not private.allows(user_id=1, chat_id=-5, private=False), "even its own user's group"
    assert not private.allows(user_id=2, chat_id=-5, private=False)
    listed = Access(allowed_users=frozenset({1}), allowed_chats=frozenset({-5}))
    assert listed.allows(user_id=2, chat_id=-5, private=False)
    assert not listed.allows(user_id=2, chat_id=-6, private=False)
    welcoming = Access(allowed_users=frozenset({1}), all_groups=True)
    assert welcoming.allows(user_id=2, chat_id=-6, private=False)
    assert not welcoming.allows(user_id=2, chat_id=2, private=True), "people still listed"
