"""The "Show cut-outs" button through the whole bot: the fake API answers cut-out URLs on a
fake HTTPS host (and one on a host off the allow-list, which is never asked), presses
arrive at the fake Bot API, and the album goes out as one sendMediaGroup."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image

from bot.app import BotService
from bot.config import Settings
from tests.e2e.harness import running, settled
from tests.fakes.cutouts import CutoutHost, tls
from tests.fakes.recognizer import FakeRecognizer, Reply, success
from tests.fakes.telegram import FakeBotApi
from tests.imagegen import jpeg, textured_jpeg

ASKER = 1001
OTHER = 1002
GROUP = -100600
ADMIN = 11
MEMBER = 22


@pytest.fixture
async def hosts() -> AsyncIterator[tuple[CutoutHost, CutoutHost, httpx.AsyncClient]]:
    """The allowed cut-out host, one off the list, and a client trusting their
    throwaway certificate (and nothing else)."""
    server_tls, client_tls = tls()
    allowed, off_list = CutoutHost(), CutoutHost()
    await allowed.start(server_tls)
    await off_list.start(server_tls)
    client = httpx.AsyncClient(verify=client_tls, follow_redirects=False, timeout=5.0)
    yield allowed, off_list, client
    await allowed.close()
    await off_list.close()


@pytest.fixture
def settings(
    settings: Settings, hosts: tuple[CutoutHost, CutoutHost, httpx.AsyncClient]
) -> Settings:
    return settings.model_copy(update={"cutout_hosts": frozenset({hosts[0].host})})


@pytest.fixture
async def bot(
    settings: Settings,
    telegram: FakeBotApi,
    hosts: tuple[CutoutHost, CutoutHost, httpx.AsyncClient],
) -> AsyncIterator[BotService]:
    telegram.admins[GROUP] = {ADMIN}
    service = await BotService.open(settings, cutout_client=hosts[2])
    async with running(service):
        yield service


def answer_with_cutouts(
    kling: FakeRecognizer, allowed: CutoutHost, off_list: CutoutHost, **found: bool
) -> None:
    """Head, clothing and object found with cut-outs on the allowed host; no face; and a
    type the API added later found, its cut-out on the host off the list."""
    kling.default = Reply(
        body=success(
            face=False,
            extra={"hair_seg": True},
            cutouts_at=allowed.root,
            elsewhere={"hair_seg": off_list.root},
            **found,
        )
    )


def button(message: dict[str, Any]) -> tuple[str, str]:
    """(label, data) of a message's one button."""
    [[only]] = message["reply_markup"]["inline_keyboard"]
    return only["text"], only["callback_data"]


def press(telegram: FakeBotApi, message: dict[str, Any], user: int) -> None:
    telegram.push(telegram.callback_update(message, button(message)[1], user_id=user))


async def answers(telegram: FakeBotApi, count: int) -> list[str]:
    await telegram.wait_until(lambda: len(telegram.answers) >= count)
    return [a.get("text", "") for a in telegram.answers]


async def test_the_asker_gets_one_album_and_expired_links_are_no_longer_available(
    bot: BotService,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    hosts: tuple[CutoutHost, CutoutHost, httpx.AsyncClient],
) -> None:
    allowed, off_list, _ = hosts
    answer_with_cutouts(kling, allowed, off_list)
    telegram.push(telegram.photo_update(ASKER, textured_jpeg(1), 1280, 960))
    [summary] = await telegram.wait_sent(ASKER)
    label, data = button(summary)
    assert label == "Show cut-outs"
    assert data.startswith("k:")
    assert len(data.encode()) <= 64
    assert allowed.asked == [], "nothing is fetched before a press"

    press(telegram, summary, OTHER)
    assert await answers(telegram, 1) == ["Only the person who asked can open these cut-outs."]
    await settled(bot, telegram)
    assert not telegram.albums
    assert allowed.asked == []

    press(telegram, summary, ASKER)
    press(telegram, summary, ASKER)  # a double tap
    texts = await answers(telegram, 3)
    await settled(bot, telegram)
    assert sorted(texts[1:]) == ["", "The cut-outs are already on their way."]
    [album] = telegram.albums
    assert album["chat_id"] == ASKER
    assert [item["caption"] for item in album["media"]] == [
        "Head (face with hair)",
        "Clothing",
        "Main object",
    ]
    assert all(item["type"] == "photo" for item in album["media"])
    assert [Image.open(io.BytesIO(f)).size for f in album["files"]] == [(400, 400)] * 3
    assert sorted(allowed.asked) == ["/cloth_seg.png", "/head_seg.png", "/object_seg.png"]

    press(telegram, summary, ASKER)  # after the album went out
    assert (await answers(telegram, 4))[3] == "The cut-outs are already on their way."
    await settled(bot, telegram)
    assert len(telegram.albums) == 1

    # Another photo, answered after Kling stopped keeping its cut-outs.
    allowed.expired = True
    telegram.push(telegram.photo_update(ASKER, textured_jpeg(2), 1280, 960))
    [_, later] = await telegram.wait_sent(ASKER, 2)
    press(telegram, later, ASKER)
    assert (await answers(telegram, 5))[4] == "These cut-outs are no longer available."
    await settled(bot, telegram)
    [edit] = [e for e in telegram.edits if int(e["message_id"]) == later["message_id"]]
    assert button(edit) == ("Cut-outs no longer available", button(later)[1])
    asked = len(allowed.asked)
    press(telegram, later, ASKER)
    assert (await answers(telegram, 6))[5] == "These cut-outs are no longer available."
    await settled(bot, telegram)
    assert len(allowed.asked) == asked, "a press on an expired offer fetches nothing"
    assert len(telegram.albums) == 1

    assert off_list.asked == [], "a URL off the allow-list is never fetched"


async def test_a_single_cut_out_goes_as_a_photo(
    bot: BotService,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    hosts: tuple[CutoutHost, CutoutHost, httpx.AsyncClient],
) -> None:
    allowed, off_list, _ = hosts
    answer_with_cutouts(kling, allowed, off_list, head=False, cloth=False)
    telegram.push(telegram.photo_update(ASKER, textured_jpeg(3), 1280, 960))
    [summary] = await telegram.wait_sent(ASKER)
    press(telegram, summary, ASKER)
    assert await answers(telegram, 1) == [""]
    await settled(bot, telegram)
    [photo] = telegram.calls_to("sendPhoto")
    assert (int(photo.params["chat_id"]), photo.params["caption"]) == (ASKER, "Main object")
    assert not telegram.albums, "sendMediaGroup takes 2 to 10 items"
    assert off_list.asked == []


async def test_no_button_in_a_moderated_groups_notice_and_check_sends_privately(
    bot: BotService,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    hosts: tuple[CutoutHost, CutoutHost, httpx.AsyncClient],
) -> None:
    allowed, off_list, _ = hosts
    for text in ("/forbid cloth", "/action warn", "/moderate on"):
        telegram.push(telegram.command(GROUP, text, user_id=ADMIN, chat_type="supergroup"))
    await telegram.wait_sent(GROUP, 3)
    answer_with_cutouts(kling, allowed, off_list)
    posted = telegram.photo_update(
        GROUP, jpeg(640, 640, seed=1), 640, 640, user_id=MEMBER, chat_type="supergroup"
    )
    telegram.push(posted)
    [*_, notice] = await telegram.wait_sent(GROUP, 4)
    await settled(bot, telegram)
    assert "Clothing" in notice["text"], "the photo broke the rule"
    assert "reply_markup" not in notice, "a moderated group's notice offers no cut-outs"

    # /check in the same group: its answer has the button, and the album goes to the
    # asker's private chat, never into the group.
    check = telegram.command(
        GROUP,
        "/check",
        user_id=MEMBER,
        chat_type="supergroup",
        reply_to_message=posted["message"],
    )
    telegram.push(check)
    [*_, answer] = await telegram.wait_sent(GROUP, 5)
    assert button(answer)[0] == "Show cut-outs"
    telegram.never_started.add(MEMBER)
    press(telegram, answer, MEMBER)
    assert await answers(telegram, 1) == [
        "I send cut-outs in a private chat. Open a chat with @segment_bot, then press again."
    ]
    await settled(bot, telegram)
    telegram.never_started.discard(MEMBER)
    press(telegram, answer, MEMBER)
    assert (await answers(telegram, 2))[1] == ""
    await settled(bot, telegram)
    [album] = telegram.albums
    assert album["chat_id"] == MEMBER
    assert not any("media" in m for m in telegram.sent_to(GROUP))
    assert off_list.asked == []
