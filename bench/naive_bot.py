"""The bot as a first draft would write it, for comparison only: one update at a time,
every image fully decoded and re-encoded, a new HTTP client per call, no cache.

    python -m bench.naive_bot   (same environment variables as the real bot)
"""

from __future__ import annotations

import base64
import io
import os

import httpx
from PIL import Image
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters


async def on_photo(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    """Download, decode, re-encode, recognise, reply: strictly in sequence."""
    message = update.effective_message
    assert message is not None
    file = await message.photo[-1].get_file() if message.photo else None
    if file is None and message.document:
        file = await message.document.get_file()
    assert file is not None
    data = bytes(await file.download_as_bytearray())
    image = Image.open(io.BytesIO(data))
    image.load()
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=90)
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            os.environ["DEERAPI_BASE_URL"] + "/kling/v1/videos/image-recognize",
            headers={"Authorization": f"Bearer {os.environ['DEERAPI_API_KEY']}"},
            json={"image": base64.b64encode(out.getvalue()).decode()},
        )
    images = response.json()["data"]["task_result"]["images"]
    found = [item["type"] for item in images if item["is_contain"]]
    await message.reply_text("Found: " + ", ".join(found))


def main() -> None:
    """Poll the Bot API named by the environment until stopped."""
    app = (
        Application.builder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_API_BASE_URL"])
        .base_file_url(os.environ["TELEGRAM_FILE_BASE_URL"])
        .build()
    )
    app.add_handler(MessageHandler(filters.PHOTO | filters.Document.ALL, on_photo))
    app.run_polling(poll_interval=0, timeout=1)


if __name__ == "__main__":
    main()
