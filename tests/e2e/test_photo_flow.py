"""A person sends images; the whole bot answers through the fakes."""

from __future__ import annotations

import asyncio
import logging

from bot.app import BotService
from bot.logs import fields_of
from tests.conftest import API_KEY
from tests.fakes.recognizer import FakeRecognizer, Reply, success
from tests.fakes.telegram import FakeBotApi, Fault
from tests.imagegen import image_bytes, jpeg, png

CHAT = 1001


async def test_photo_gets_one_reply_with_the_marks(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    kling.default.body = success(head=True, face=False, cloth=True, obj=False)
    data = jpeg(1280, 960)
    update = telegram.photo_update(CHAT, data, 1280, 960)
    telegram.push(update)

    [reply] = await telegram.wait_sent(CHAT)

    assert reply["text"].splitlines() == [
        "Found 2 of 4 segments in this image:",
        "✅ Head (face with hair)",
        "✅ Clothing",
        "❌ Face",
        "❌ Main object",
    ]
    assert reply["reply_parameters"]["message_id"] == update["message"]["message_id"]
    [request] = kling.received
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.decoded == data
    assert not telegram.calls_to("sendChatAction"), "a quick answer needs no typing sign"


async def test_typing_is_shown_while_a_slow_api_works(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    kling.default = Reply(delay=1.6)
    telegram.push(telegram.photo_update(CHAT, jpeg(800, 600), 800, 600))

    await telegram.wait_sent(CHAT)

    [action] = telegram.calls_to("sendChatAction")
    assert action.params["action"] == "typing"
    assert action.at < telegram.calls_to("sendMessage")[0].at


async def test_image_sent_as_a_file_is_checked_in_original_quality(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    data = png(900, 1200)
    telegram.push(telegram.document_update(CHAT, data, file_name="scan.png"))

    [reply] = await telegram.wait_sent(CHAT)

    assert reply["text"].startswith("Found 4 of 4 segments")
    assert kling.received[0].decoded == data


async def test_too_small_photo_is_refused_before_download(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    telegram.push(telegram.photo_update(CHAT, jpeg(250, 400), 250, 400))

    [reply] = await telegram.wait_sent(CHAT)

    assert reply["text"] == (
        "This image is 250 x 400 px; each side must be at least 300 px. Please send a larger image."
    )
    assert not telegram.calls_to("getFile")
    assert not kling.received


async def test_too_wide_file_is_refused_after_download_without_api_call(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    telegram.push(telegram.document_update(CHAT, png(1300, 500), file_name="banner.png"))

    [reply] = await telegram.wait_sent(CHAT)

    assert "1300 x 500 px, an aspect ratio of 2.60:1" in reply["text"]
    assert "between 1:2.5 and 2.5:1" in reply["text"]
    assert not kling.received


async def test_gif_is_converted_to_jpeg_and_the_person_is_told(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    gif = image_bytes(400, 400, "GIF", mode="P")
    telegram.push(telegram.document_update(CHAT, gif, file_name="a.gif", mime_type="image/gif"))

    [reply] = await telegram.wait_sent(CHAT)

    assert "converted from GIF to JPEG" in reply["text"]
    assert kling.received[0].decoded is not None
    assert kling.received[0].decoded.startswith(b"\xff\xd8")


async def test_non_image_file_gets_a_clear_refusal(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    telegram.push(
        telegram.document_update(
            CHAT, b"%PDF-1.7 not a picture", file_name="photo.jpg", mime_type="image/jpeg"
        )
    )

    [reply] = await telegram.wait_sent(CHAT)

    assert reply["text"].startswith("I could not read this file as an image.")
    assert not kling.received


async def test_file_over_the_download_limit_is_refused_without_download(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    telegram.push(telegram.document_update(CHAT, b"x", file_size=20 * 1024 * 1024 + 1))

    [reply] = await telegram.wait_sent(CHAT)

    # Telegram's "20 MB" are MiB; one byte over reads as over.
    assert "This file is 20.1 MB; Telegram lets bots download at most 20 MB." in reply["text"]
    assert not telegram.calls_to("getFile")


async def test_edited_photo_message_is_not_answered_again(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    update = telegram.photo_update(CHAT, jpeg(600, 600), 600, 600)
    telegram.push(update)
    await telegram.wait_sent(CHAT)
    telegram.push({"edited_message": update["message"] | {"caption": "edited"}})
    telegram.push(telegram.message(CHAT, text="hello"))

    replies = await telegram.wait_sent(CHAT, 2)

    assert len(kling.received) == 1
    assert len(replies) == 2


async def test_help_and_a_hint_for_anything_else(bot: BotService, telegram: FakeBotApi) -> None:
    telegram.push(
        telegram.message(
            CHAT, text="/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}]
        )
    )
    [help_reply] = await telegram.wait_sent(CHAT)
    telegram.push(telegram.message(CHAT, sticker=None, text="what is this?"))
    replies = await telegram.wait_sent(CHAT, 2)

    assert "300 px" in help_reply["text"]
    assert "as a file" in help_reply["text"]
    assert replies[1]["text"].startswith("Send me a photo")


async def test_several_photos_in_one_chat_share_one_typing_sign(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    kling.default = Reply(delay=1.6)
    for seed in range(3):
        telegram.push(telegram.photo_update(CHAT, jpeg(800, 600, seed=seed), 800, 600))

    await telegram.wait_sent(CHAT, 3)

    assert len(telegram.calls_to("sendChatAction")) == 1


async def test_each_image_leaves_one_log_line_with_its_story(
    bot: BotService,
    telegram: FakeBotApi,
    kling: FakeRecognizer,
    log_records: list[logging.LogRecord],
) -> None:
    update_id = telegram.push(telegram.document_update(CHAT, png(900, 1200), file_name="a.png"))
    await telegram.wait_sent(CHAT)
    telegram.push(telegram.photo_update(CHAT, jpeg(200, 200), 200, 200))
    await telegram.wait_sent(CHAT, 2)

    lines = [
        r
        for r in log_records
        if r.name == "bot.photo.pipeline" and r.getMessage().startswith("image")
    ]
    assert len(lines) == 2
    first, refused = (fields_of(record) for record in lines)
    assert first["outcome"] == "recognized"
    assert first["source"] == "file"
    assert first["update"] == update_id
    assert first["chat"] == CHAT
    assert first["user"] == CHAT
    assert first["cache"] == "miss"
    assert first["attempts"] == 1
    assert first["request_id"] == "req-ok"
    assert first["bytes_in"] == first["bytes_out"] > 0
    assert {"download_ms", "prepare_ms", "api_ms", "total_ms"} <= set(first)
    assert refused["outcome"] == "refused:TooSmall"
    assert refused["bytes_in"] == 0, "refused from what Telegram declared"


async def test_a_check_whose_answer_cannot_be_delivered_is_given_back(
    bot: BotService, telegram: FakeBotApi, kling: FakeRecognizer
) -> None:
    telegram.fail("sendMessage", Fault(status=400, description="Bad Request: chat not found"))
    telegram.push(telegram.photo_update(CHAT, jpeg(640, 640), 640, 640))
    await kling.wait_received(1)
    await asyncio.sleep(0.5)
    telegram.push(telegram.command(CHAT, "/quota"))
    [quota] = await telegram.wait_sent(CHAT)

    assert quota["text"].startswith("Checks left today for you: 50")
