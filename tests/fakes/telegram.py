"""A fake Telegram Bot API on 127.0.0.1: real HTTP, scripted faults, everything recorded.

It speaks enough of the Bot API for python-telegram-bot's real HTTP layer:
getMe, getUpdates (long polling), getFile, file downloads, sendMessage,
editMessageText, sendChatAction, setMyCommands, deleteWebhook, and for groups
getChatMember, getChatAdministrators, deleteMessage, forwardMessage, sendPhoto,
sendDocument, sendMediaGroup (2-10 items, as Telegram), editMessageCaption,
editMessageReplyMarkup, answerCallbackQuery, restrictChatMember,
banChatMember, unbanChatMember, banChatSenderChat and unbanChatSenderChat.
The bot is an admin of every group with the delete and restrict rights unless a
test takes them away (`cannot_delete`, `cannot_restrict`). People in `admins` are the
group's owners; `rights[(chat, user)]` makes someone an administrator holding only the
rights named (`{"can_pin_messages"}`: a pin-only admin). A message built with
`thread_id` is a post in that forum topic.

`serve_locally(folder)` makes it act as a local telegram-bot-api server started with
--local: getFile answers files of up to 2000 MB with an absolute path in `folder`, which
a client in local mode reads from disk instead of downloading.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.server import LocalServer

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "Segment bot", "username": "segment_bot"}
# Telegram's own senders: an anonymous admin posts as @GroupAnonymousBot, a member
# posting as a channel as @Channel_Bot (with the channel in `sender_chat`).
ANONYMOUS_ADMIN_BOT = {"id": 1087968824, "is_bot": True, "first_name": "Group"}
CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel"}
MAX_BOT_DOWNLOAD = 20 * 1024 * 1024
MAX_LOCAL_SERVER_DOWNLOAD = 2000 * 1024 * 1024


@dataclass
class Fault:
    """A scripted answer that replaces the normal one for one call.

    `status`/`body` answer with an error; `retry_after` answers 429 the way
    Telegram does; `delay` waits before answering; `cut_at` sends a download's
    headers for the whole file but closes the connection after that many bytes.
    """

    status: int = 500
    description: str = "Internal Server Error"
    retry_after: int | None = None
    delay: float = 0.0
    cut_at: int | None = None


@dataclass
class ApiCall:
    """One Bot API call as the fake received it."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class FakeBotApi(LocalServer):
    """Serve the Bot API for one token; see the module doc for what it answers."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[ApiCall] = []
        self.delivered: list[dict[str, Any]] = []
        # Groups: who is admin where, and where the bot lacks the right to delete.
        self.admins: dict[int, set[int]] = defaultdict(set)
        self.rights: dict[tuple[int, int], set[str]] = {}
        self.never_started: set[int] = set()  # people who never opened a chat with the bot
        self.cannot_delete: set[int] = set()
        self.cannot_restrict: set[int] = set()
        self.deleted: list[tuple[int, int]] = []
        self.gone: set[tuple[int, int]] = set()  # deleted by their authors before the bot
        self.forwarded: list[dict[str, Any]] = []
        self.restricted: dict[tuple[int, int], dict[str, Any]] = {}
        self.banned: set[tuple[int, int]] = set()
        self.edits: list[dict[str, Any]] = []
        self.albums: list[dict[str, Any]] = []  # sendMediaGroup: chat_id, media, files
        self.answers: list[dict[str, Any]] = []
        self.polled = asyncio.Event()
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.served_at: dict[int, float] = {}
        self.pushed = 0  # updates pushed so far (their ids are 1..pushed)
        self._pending: list[dict[str, Any]] = []
        self._new_update = asyncio.Event()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._file_ids = itertools.count(1)
        self._chats: dict[int, dict[str, Any]] = {}
        self._sent = asyncio.Condition()
        self.local_folder: Path | None = None

    def routes(self, app: web.Application) -> None:
        """Bot API methods and file downloads, both under the token."""
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)

    @property
    def base_url(self) -> str:
        """python-telegram-bot `base_url` (the token is appended)."""
        return f"{self.root}/bot"

    @property
    def base_file_url(self) -> str:
        """python-telegram-bot `base_file_url` (the token is appended)."""
        return f"{self.root}/file/bot"

    # -- scripting -------------------------------------------------------

    def serve_locally(self, folder: Path) -> None:
        """Answer getFile as a local Bot API server does: a path on disk, up to 2000 MB."""
        folder.mkdir(parents=True, exist_ok=True)
        self.local_folder = folder

    def fail(self, method: str, *faults: Fault) -> None:
        """Answer the next calls of `method` (or "download") with these faults, in order."""
        self.faults[method].extend(faults)

    def add_file(self, data: bytes) -> tuple[str, str]:
        """Store bytes for getFile/download; return (file_id, file_unique_id)."""
        n = next(self._file_ids)
        file_id = f"file-{n}"
        self.files[file_id] = data
        return file_id, f"unique-{n}"

    def push(self, update: dict[str, Any]) -> int:
        """Queue an update (its `update_id` is assigned here) and return that id."""
        update_id = next(self._update_ids)
        update["update_id"] = update_id
        self.pushed = update_id
        message = update.get("message") or update.get("edited_message")
        if message:
            self._chats[message["chat"]["id"]] = message["chat"]
        self._pending.append(update)
        self._new_update.set()
        return update_id

    # -- building updates ------------------------------------------------

    def message(
        self,
        chat_id: int,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        language: str = "en",
        thread_id: int | None = None,
        **content: Any,
    ) -> dict[str, Any]:
        """An update carrying a new message with `content` (text=..., photo=[...], ...);
        with `thread_id`, a post in that topic of a forum supergroup."""
        user = {
            "id": user_id or chat_id,
            "is_bot": False,
            "first_name": "Ann",
            "language_code": language,
        }
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = "Ann"
        else:
            chat["title"] = "A group"
        if thread_id is not None:
            chat["is_forum"] = True
            content = {"message_thread_id": thread_id, "is_topic_message": True, **content}
        return {
            "message": {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": chat,
                "from": user,
                **content,
            }
        }

    def command(self, chat_id: int, text: str, **kwargs: Any) -> dict[str, Any]:
        """A message whose first word is a bot command, with the entity Telegram adds."""
        length = len(text.split()[0])
        entities = [{"type": "bot_command", "offset": 0, "length": length}]
        return self.message(chat_id, text=text, entities=entities, **kwargs)

    def photo_update(
        self, chat_id: int, data: bytes, width: int, height: int, **kwargs: Any
    ) -> dict[str, Any]:
        """A photo message whose largest size is `data` (with a small thumbnail first)."""
        file_id, unique_id = self.add_file(data)
        thumb_id, thumb_unique = self.add_file(b"thumbnail")
        sizes = [
            {
                "file_id": thumb_id,
                "file_unique_id": thumb_unique,
                "width": 90,
                "height": 90,
                "file_size": 9,
            },
            {
                "file_id": file_id,
                "file_unique_id": unique_id,
                "width": width,
                "height": height,
                "file_size": len(data),
            },
        ]
        return self.message(chat_id, photo=sizes, **kwargs)

    def document_update(
        self,
        chat_id: int,
        data: bytes,
        *,
        file_name: str = "image.png",
        mime_type: str = "image/png",
        file_size: int | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """A file message; `file_size` may claim a size other than the real one."""
        file_id, unique_id = self.add_file(data)
        document = {
            "file_id": file_id,
            "file_unique_id": unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(data) if file_size is None else file_size,
        }
        return self.message(chat_id, document=document, **kwargs)

    def callback_update(
        self, message: dict[str, Any], data: str, *, user_id: int, language: str = "en"
    ) -> dict[str, Any]:
        """A button press on a message the bot sent (as `sent_to` returns it)."""
        user = {"id": user_id, "is_bot": False, "first_name": f"Admin {user_id}"}
        chat_id = int(message["chat_id"])
        chat = self._chats.get(chat_id, {"id": chat_id, "type": "private", "first_name": "A"})
        return {
            "callback_query": {
                "id": str(next(self._message_ids)),
                "from": {**user, "language_code": language},
                "chat_instance": "ci",
                "data": data,
                "message": {
                    "message_id": message["message_id"],
                    "date": int(time.time()),
                    "chat": chat,
                    "from": BOT_USER,
                    "caption": message.get("caption", ""),
                    **(
                        {"reply_markup": message["reply_markup"]}
                        if "reply_markup" in message
                        else {}
                    ),
                },
            }
        }

    def member_update(
        self, chat_id: int, user_id: int, old: str, new: str, *, kind: str = "chat_member"
    ) -> dict[str, Any]:
        """A `chat_member` (or, for the bot, `my_chat_member`) change of status."""
        user: dict[str, Any] = (
            BOT_USER
            if kind == "my_chat_member"
            else {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        )

        def member(status: str) -> dict[str, Any]:
            if status == "administrator":
                return {**self._bot_member(chat_id), "user": user}
            return {"status": status, "user": user}

        return {
            kind: {
                "chat": self._chats.get(chat_id, {"id": chat_id, "type": "supergroup"}),
                "from": {"id": 11, "is_bot": False, "first_name": "Owner"},
                "date": int(time.time()),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            }
        }

    # -- reading what the bot did ----------------------------------------

    def calls_to(self, method: str) -> list[ApiCall]:
        """Every call of `method`, oldest first."""
        return [call for call in self.calls if call.method == method]

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        """Parameters of every message delivered to `chat_id` (failed sends excluded)."""
        return [m for m in self.delivered if int(m["chat_id"]) == chat_id]

    async def wait_delivered(self, count: int, within: float = 10.0) -> None:
        """Wait until `count` messages in all have been delivered, to any chat."""
        async with asyncio.timeout(within), self._sent:
            await self._sent.wait_for(lambda: len(self.delivered) >= count)

    async def wait_until(self, check: Callable[[], bool], within: float = 10.0) -> None:
        """Wait until `check` holds, tried again after each call the fake answers."""
        async with asyncio.timeout(within), self._sent:
            await self._sent.wait_for(check)

    async def wait_sent(
        self, chat_id: int, count: int = 1, within: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait until `count` messages went to `chat_id`; return them all."""
        async with asyncio.timeout(within), self._sent:
            await self._sent.wait_for(lambda: len(self.sent_to(chat_id)) >= count)
        return self.sent_to(chat_id)

    # -- HTTP ------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append(ApiCall(method, params))
        if method == "getUpdates":
            self.polled.set()
        if self.faults[method]:
            return await _fault(self.faults[method].popleft())
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        result: web.StreamResponse = await handler(params)
        # Every answered call may be what a test waits for (`wait_until`).
        async with self._sent:
            self._sent.notify_all()
        return result

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        self.calls.append(ApiCall("download", {"file_id": file_id}))
        data = self.files.get(file_id)
        if data is None:
            return web.Response(status=404)
        fault = self.faults["download"].popleft() if self.faults["download"] else None
        if fault is None or fault.cut_at is None:
            if fault is not None:
                return await _fault(fault)
            return web.Response(body=data, content_type="application/octet-stream")
        response = web.StreamResponse(headers={"Content-Length": str(len(data))})
        await response.prepare(request)
        await response.write(data[: fault.cut_at])
        assert request.transport is not None
        request.transport.close()
        return response

    async def _m_getMe(self, _: dict[str, Any]) -> web.Response:
        return _ok(BOT_USER)

    async def _m_deleteWebhook(self, _: dict[str, Any]) -> web.Response:
        return _ok(True)

    async def _m_setMyCommands(self, _: dict[str, Any]) -> web.Response:
        return _ok(True)

    async def _m_setWebhook(self, _: dict[str, Any]) -> web.Response:
        return _ok(True)

    async def _m_sendChatAction(self, _: dict[str, Any]) -> web.Response:
        return _ok(True)

    async def _m_getUpdates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        self._pending = [u for u in self._pending if u["update_id"] >= offset]
        if not self._pending:
            self._new_update.clear()
            # Short waits keep the bot's shutdown fast; the bot polls again at once.
            wait = min(float(params.get("timeout") or 0), 0.5)
            try:
                async with asyncio.timeout(wait):
                    await self._new_update.wait()
            except TimeoutError:
                pass
        now = time.monotonic()
        for update in self._pending:
            self.served_at.setdefault(update["update_id"], now)
        return _ok(self._pending[:100])

    async def _m_getFile(self, params: dict[str, Any]) -> web.Response:
        file_id = str(params.get("file_id"))
        data = self.files.get(file_id)
        if data is None:
            return _error(400, "Bad Request: invalid file_id")
        limit = MAX_BOT_DOWNLOAD if self.local_folder is None else MAX_LOCAL_SERVER_DOWNLOAD
        if len(data) > limit:
            return _error(400, "Bad Request: file is too big")
        file_path = f"documents/{file_id}"
        if self.local_folder is not None:
            local = self.local_folder / file_id
            await asyncio.to_thread(local.write_bytes, data)
            file_path = str(local.resolve())
        return _ok(
            {
                "file_id": file_id,
                "file_unique_id": "u" + file_id,
                "file_size": len(data),
                "file_path": file_path,
            }
        )

    async def _m_getChatMember(self, params: dict[str, Any]) -> web.Response:
        return _ok(self._member(int(params["chat_id"]), int(params["user_id"])))

    def _member(self, chat_id: int, user_id: int) -> dict[str, Any]:
        if user_id == BOT_USER["id"]:
            return self._bot_member(chat_id)
        user = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        if user_id in self.admins[chat_id]:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if (chat_id, user_id) in self.rights:
            return {**self._administrator(self.rights[chat_id, user_id]), "user": user}
        if (chat_id, user_id) in self.banned:
            return {"status": "kicked", "user": user, "until_date": 0}
        return {"status": "member", "user": user}

    @staticmethod
    def _administrator(granted: set[str]) -> dict[str, Any]:
        names = (
            "can_be_edited",
            "is_anonymous",
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_promote_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
            "can_pin_messages",
        )
        return {"status": "administrator", **{name: name in granted for name in names}}

    def _bot_member(self, chat_id: int) -> dict[str, Any]:
        granted = set()
        if chat_id not in self.cannot_delete:
            granted.add("can_delete_messages")
        if chat_id not in self.cannot_restrict:
            granted.add("can_restrict_members")
        return {**self._administrator(granted), "user": BOT_USER}

    async def _m_getChatAdministrators(self, params: dict[str, Any]) -> web.Response:
        chat_id = int(params["chat_id"])
        ids = self.admins[chat_id] | {user for chat, user in self.rights if chat == chat_id}
        people = [self._member(chat_id, user_id) for user_id in sorted(ids)]
        return _ok([*people, self._bot_member(chat_id)])

    async def _m_deleteMessage(self, params: dict[str, Any]) -> web.Response:
        chat_id = int(params["chat_id"])
        message = (chat_id, int(params["message_id"]))
        if chat_id in self.cannot_delete:
            return _error(400, "Bad Request: message can't be deleted")
        if message in self.gone or message in self.deleted:
            return _error(400, "Bad Request: message to delete not found")
        self.deleted.append(message)
        return _ok(True)

    async def _m_sendPhoto(self, params: dict[str, Any]) -> web.Response:
        if int(params["chat_id"]) in self.never_started:
            return _error(403, "Forbidden: bot can't initiate conversation with a user")
        self.delivered.append(params)
        return _ok(self._message_json(params))

    async def _m_sendMediaGroup(self, params: dict[str, Any]) -> web.Response:
        chat_id = int(params["chat_id"])
        if chat_id in self.never_started:
            return _error(403, "Forbidden: bot can't initiate conversation with a user")
        media = params["media"]
        if not 2 <= len(media) <= 10:
            return _error(400, "Bad Request: wrong number of messages in the media group")
        # Uploads arrive as multipart parts named by each item's attach://<name>.
        files = [params[str(item["media"]).removeprefix("attach://")].file.read() for item in media]
        album = {"chat_id": chat_id, "media": media, "files": files}
        self.albums.append(album)
        return _ok(
            [self._message_json({"chat_id": chat_id, "photo": "", **item}) for item in media]
        )

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> web.Response:
        self.edits.append(params)
        return _ok(self._message_json(params, message_id=int(params["message_id"])))

    async def _m_sendDocument(self, params: dict[str, Any]) -> web.Response:
        self.delivered.append(params)
        return _ok(self._message_json(params))

    async def _m_editMessageCaption(self, params: dict[str, Any]) -> web.Response:
        self.edits.append(params)
        return _ok(self._message_json(params, message_id=int(params["message_id"])))

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> web.Response:
        self.answers.append(params)
        return _ok(True)

    async def _restricting(self, params: dict[str, Any]) -> tuple[int, int] | web.Response:
        chat_id = int(params["chat_id"])
        if chat_id in self.cannot_restrict:
            return _error(400, "Bad Request: not enough rights to restrict/unrestrict chat member")
        return chat_id, int(params.get("user_id") or params.get("sender_chat_id") or 0)

    async def _m_restrictChatMember(self, params: dict[str, Any]) -> web.Response:
        target = await self._restricting(params)
        if isinstance(target, web.Response):
            return target
        self.restricted[target] = params
        return _ok(True)

    async def _m_banChatMember(self, params: dict[str, Any]) -> web.Response:
        target = await self._restricting(params)
        if isinstance(target, web.Response):
            return target
        self.banned.add(target)
        return _ok(True)

    async def _m_unbanChatMember(self, params: dict[str, Any]) -> web.Response:
        target = await self._restricting(params)
        if isinstance(target, web.Response):
            return target
        self.banned.discard(target)
        return _ok(True)

    _m_banChatSenderChat = _m_banChatMember
    _m_unbanChatSenderChat = _m_unbanChatMember

    async def _m_forwardMessage(self, params: dict[str, Any]) -> web.Response:
        self.forwarded.append(params)
        return _ok(self._message_json({"chat_id": params["chat_id"]}))

    async def _m_sendMessage(self, params: dict[str, Any]) -> web.Response:
        if int(params["chat_id"]) in self.never_started:
            return _error(403, "Forbidden: bot can't initiate conversation with a user")
        self.delivered.append(params)
        return _ok(self._message_json(params))

    async def _m_editMessageText(self, params: dict[str, Any]) -> web.Response:
        self.edits.append(params)
        return _ok(self._message_json(params, message_id=int(params["message_id"])))

    def _message_json(
        self, params: dict[str, Any], message_id: int | None = None
    ) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        chat = self._chats.get(chat_id, {"id": chat_id, "type": "private"})
        sent: dict[str, Any] = {
            "message_id": message_id or next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": BOT_USER,
        }
        if "caption" in params or "photo" in params or "document" in params:
            sent["caption"] = params.get("caption", "")
        else:
            sent["text"] = params.get("text", "")
        # Tests read back what was sent with the id it got (for button presses).
        params.setdefault("message_id", sent["message_id"])
        return sent


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        body = await request.json()
        return dict(body) if isinstance(body, dict) else {}
    form = await request.post()
    params: dict[str, Any] = {}
    for key, value in form.items():
        if isinstance(value, str) and value[:1] in ("{", "["):
            params[key] = json.loads(value)
        else:
            params[key] = value
    return params


async def _fault(fault: Fault) -> web.Response:
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if fault.retry_after is not None:
        return web.json_response(
            {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {fault.retry_after}",
                "parameters": {"retry_after": fault.retry_after},
            },
            status=429,
        )
    return _error(fault.status, fault.description)


def _ok(result: object) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": status, "description": description}, status=status
    )
