"""Composition root: settings in, the whole bot out, and its run loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlsplit

import httpx
from aiohttp import web
from telegram import Update
from telegram.error import TelegramError

from bot import images
from bot.access import Access
from bot.alerts import OperatorAlerts
from bot.budget import ByteBudget
from bot.cache import ResultCache
from bot.config import Settings
from bot.cutouts import CutoutFetcher, CutoutOffers
from bot.decoding import DecodePool, WorkerFault
from bot.fairness import Fairness
from bot.guarded_storage import GuardedIntake, GuardedStorage, StorageUnavailable
from bot.health import Dependency, Health, Load, ObservedRecognizer, Phase, RecentOutcomes
from bot.i18n import Catalogs
from bot.metrics import (
    DECODE_BUDGET_BYTES,
    DECODE_BUDGET_IN_USE,
    DECODE_WORKERS_BUSY,
    DEPENDENCY_UP,
)
from bot.near import NearDuplicates
from bot.near_store import NearStore, open_near_store
from bot.pipeline import PhotoPipeline
from bot.preparing import ImageWork
from bot.quotas import Quotas
from bot.recognizer import Recognizer
from bot.slots import WorkSlots
from bot.startup import Misconfigured, open_storage
from bot.stats import Stats
from bot.storage import State
from bot.storage.intake import Intake
from bot.tg import routes
from bot.tg.admission import Admission
from bot.tg.application import (
    LONG_POLL_TIMEOUT,
    WEBHOOK_FAILURES_TO_DOWN,
    BoundedUpdates,
    PollingConflict,
    build_application,
)
from bot.tg.chat_commands import ChatCommands
from bot.tg.chat_events import ChatEvents
from bot.tg.cutout_presses import CutoutButtons
from bot.tg.download import TelegramDownloader
from bot.tg.enforcer import Enforcer
from bot.tg.errors import ErrorHandler
from bot.tg.gate import CommandGate
from bot.tg.intake import DurableUpdates, ReceiptQueue, SetAsideAnswers
from bot.tg.members import BotRights, ChatAdmins
from bot.tg.moderator import Moderator
from bot.tg.outbox import Outbox
from bot.tg.photos import PhotoRoutes
from bot.tg.presses import ReportPresses
from bot.tg.reports import Reporter
from bot.tg.sanctions import Sanctions
from bot.tg.settings_menu import SettingsMenu
from bot.tg.startup import register_webhook
from bot.tg.web import web_app

logger = logging.getLogger(__name__)

DEFAULT_HTTP_PORT = 8080
SHUTDOWN_SLACK = 15.0
STATS_FLUSH_SECONDS = 10.0


class BotService:
    """The whole bot: settings in; `run` serves updates until told to stop."""

    def __init__(
        self,
        settings: Settings,
        storage: State,
        health: Health,
        intake: Intake,
        near_store: NearStore | None = None,
        cutout_client: httpx.AsyncClient | None = None,
    ) -> None:
        """`cutout_client`: the HTTP client cut-outs are fetched with (tests trust their
        own certificate through it); by default one of the fetcher's own."""
        self.settings = settings
        self.near_store = near_store
        self.storage = storage
        self.health = health
        self.ready = asyncio.Event()
        self.catalogs = Catalogs()
        self.recognizer = Recognizer.for_settings(settings, settings.deerapi_api_key)
        self.updates = BoundedUpdates(WorkSlots(settings.max_concurrent_updates))
        self.conflict = PollingConflict()
        self.app = build_application(
            settings, telegram=health.telegram, updates=self.updates, conflict=self.conflict
        )
        # A process that waits for another's call (its claim renewed while it runs, see
        # bot/cache.py) gives up in time to make its own before its photo's deadline (by
        # default after 30 s).
        wait_seconds = max(
            0.0, settings.photo_deadline_seconds - settings.api_total_deadline_seconds
        )
        health.load = self._load
        bot = self.app.bot
        outbox = Outbox(bot)
        quotas = Quotas(
            storage,
            per_user=settings.user_daily_limit,
            per_group=settings.group_daily_limit,
            overall=settings.global_daily_limit,
        )
        stats = self.stats = Stats(storage)
        admin = settings.admin_chat_id
        download_limit = images.download_limit(settings.telegram_local_mode)
        self.cache = ResultCache(
            storage,
            ttl=settings.cache_ttl_hours * 3600,
            wait_seconds=wait_seconds,
        )
        self.downloader = TelegramDownloader(
            bot,
            settings.telegram_timeout_seconds,
            download_limit,
            settings.max_concurrent_downloads,
        )
        self.decoders = DecodePool(settings.decode_workers, settings.decode_cpu_seconds)
        decode_budget = ByteBudget(settings.decode_budget_mb * 1_000_000)
        self.near = (
            None
            if near_store is None
            else NearDuplicates(near_store, ttl=settings.cache_ttl_hours * 3600)
        )
        memory = ByteBudget(settings.memory_budget_mb * 1_000_000)
        image_work = ImageWork(decode_budget, self.decoders, printed=near_store is not None)
        # Cut-outs are checked as images, but never fingerprinted: they are no one's photo.
        # With no host allowed there is no button, and no HTTP client is made for it.
        self.cutout_fetcher = (
            CutoutFetcher(
                settings.cutout_hosts, ImageWork(decode_budget, self.decoders), cutout_client
            )
            if settings.cutout_hosts
            else None
        )
        cutouts = CutoutButtons(
            offers=None
            if self.cutout_fetcher is None
            else CutoutOffers(
                storage,
                self.cache,
                self.cutout_fetcher,
                memory,
                cache_ttl=settings.cache_ttl_hours * 3600,
            ),
            outbox=outbox,
            catalogs=self.catalogs,
            bot_name=lambda: bot.username,
        )
        DECODE_BUDGET_IN_USE.set_function(lambda: decode_budget.in_use)
        DECODE_BUDGET_BYTES.set(decode_budget.capacity)
        DEPENDENCY_UP.labels("storage").set_function(lambda: 0 if health.storage.down else 1)
        DEPENDENCY_UP.labels("telegram").set_function(lambda: 0 if health.telegram.down else 1)
        DECODE_WORKERS_BUSY.set_function(lambda: len(self.decoders.busy_pids))
        pipeline = PhotoPipeline(
            ObservedRecognizer(self.recognizer, health.api),
            self.downloader,
            cache=self.cache,
            quotas=quotas,
            stats=stats,
            alerts=OperatorAlerts(outbox.sender_to(admin) if admin is not None else None),
            max_concurrent_downloads=settings.max_concurrent_downloads,
            memory=memory,
            images=image_work,
            deadline=settings.photo_deadline_seconds,
            download_limit=download_limit,
            near=self.near,
        )
        admins = ChatAdmins(bot)
        rights = BotRights(bot)
        sanctions = Sanctions(bot)
        reporter = Reporter(
            storage=storage, outbox=outbox, admins=admins, report_chat_id=settings.report_chat_id
        )
        admission = Admission(
            storage=storage,
            access=Access(
                allowed_users=settings.allowed_user_ids,
                allowed_chats=settings.allowed_chat_ids,
                bot_admins=settings.admin_user_ids,
                all_groups=settings.allow_all_groups,
            ),
            catalogs=self.catalogs,
            outbox=outbox,
        )
        photos = PhotoRoutes(
            admission=admission,
            storage=storage,
            pipeline=pipeline,
            moderator=Moderator(
                storage=storage,
                store=storage,
                pipeline=pipeline,
                enforcer=Enforcer(
                    storage=storage, outbox=outbox, sanctions=sanctions, reporter=reporter
                ),
                reporter=reporter,
                admins=admins,
                rights=rights,
                stats=stats,
                catalogs=self.catalogs,
                operator=outbox.sender_to(admin) if admin is not None else None,
            ),
            fairness=Fairness(
                per_key=settings.per_user_in_flight,
                max_waiting=settings.max_waiting_photos,
                while_waiting=self.updates.slots.set_aside,
            ),
            outbox=outbox,
            spawn=self.app.create_task,
            slots=self.updates.slots,
            album_quiet_seconds=settings.album_quiet_seconds,
            cutouts=cutouts,
            defer=lambda: self.durable.defer(),
        )
        gate = CommandGate(
            bot=bot,
            admission=admission,
            admins=admins,
            store=storage,
            outbox=outbox,
            catalogs=self.catalogs,
        )
        self.durable = DurableUpdates(
            intake,
            bot=bot,
            queue=self.app.update_queue,
            capacity=settings.max_concurrent_updates,
            max_backlog=settings.intake_max_backlog,
            on_set_aside=SetAsideAnswers(
                outbox=outbox,
                admission=admission,
                operator=outbox.sender_to(admin) if admin is not None else None,
            ),
        )
        self.updates.observer = self.durable
        routes.register(
            self.app,
            chat_commands=ChatCommands(
                admission=admission,
                outbox=outbox,
                storage=storage,
                quotas=quotas,
                stats=stats,
                photos=photos,
                admins=admins,
                rights=rights,
                gate=gate,
                menu=SettingsMenu(
                    bot=bot,
                    storage=storage,
                    store=storage,
                    gate=gate,
                    outbox=outbox,
                    catalogs=self.catalogs,
                ),
                concurrency=lambda: self.recognizer.concurrency_limit,
            ),
            photos=photos,
            presses=ReportPresses(
                storage=storage,
                store=storage,
                outbox=outbox,
                sanctions=sanctions,
                admins=admins,
                rights=rights,
                catalogs=self.catalogs,
            ),
            cutouts=cutouts,
            chat_events=ChatEvents(
                storage=storage,
                store=storage,
                admins=admins,
                rights=rights,
                reporter=reporter,
                catalogs=self.catalogs,
            ),
            errors=ErrorHandler(admission, outbox),
        )

    @classmethod
    async def open(
        cls, settings: Settings, *, cutout_client: httpx.AsyncClient | None = None
    ) -> BotService:
        """Open the storage the settings name (Redis if REDIS_URL is set, else SQLite),
        guarded so that an outage degrades the bot instead of stopping it, and build the
        bot on it; `StartupFailure` if the storage cannot be opened."""
        backend = await open_storage(settings)
        storage = Dependency("storage (Redis)" if settings.redis_url else "storage (SQLite)")
        polling = not settings.webhook_url
        health = Health(
            storage=storage,
            telegram=Dependency(
                "Telegram", failures_to_down=1 if polling else WEBHOOK_FAILURES_TO_DOWN
            ),
            api=RecentOutcomes(),
        )
        guarded = GuardedStorage(backend, storage)
        try:
            intake = GuardedIntake(guarded, await backend.intake())
        except BaseException:
            await backend.close()
            raise
        near_store = None
        if settings.near_duplicates:
            try:
                near_store = await open_near_store(
                    settings.redis_url.get_secret_value() if settings.redis_url else None,
                    settings.database_path,
                    settings.cache_ttl_hours * 3600,
                )
            except BaseException:
                await backend.close()
                raise
        service = cls(settings, guarded, health, intake, near_store, cutout_client)
        if service.near is not None:
            await service.near.load()
        try:
            await service.decoders.start()
        except WorkerFault as fault:
            await service.close()
            raise Misconfigured(
                "DECODE_WORKERS", str(settings.decode_workers), str(fault)
            ) from None
        return service

    async def close(self) -> None:
        """Release the HTTP clients and the storage, after a last flush of the counts and
        of the results still being written."""
        await self._flush_stats()
        await self.durable.drain()
        await self.cache.drain()
        await self.decoders.close()
        await self.downloader.aclose()
        if self.cutout_fetcher is not None:
            await self.cutout_fetcher.aclose()
        await self.recognizer.aclose()
        await self.storage.close()
        if self.near is not None:
            await self.near.drain()
        if self.near_store is not None:
            await self.near_store.close()

    def _load(self) -> Load:
        slots = self.updates.slots
        # Waiting: the updates stored and not answered, against the intake's bound.
        limit = self.settings.intake_max_backlog
        return Load(slots.working, slots.limit, min(self.durable.backlog_seen, limit), limit)

    async def _flush_stats_until(self, stop: asyncio.Event) -> None:
        """Every few seconds until `stop`; an iteration that fails keeps its counts for
        the next (the outage itself is logged by the storage guard)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), STATS_FLUSH_SECONDS)
            await self._flush_stats()

    async def _flush_stats(self) -> None:
        try:
            await self.stats.flush()
        except StorageUnavailable:
            pass
        except Exception:
            logger.exception("writing the daily counts failed; kept for the next try")

    async def run(self, stop: asyncio.Event) -> None:
        """Serve updates (long polling, or a webhook if WEBHOOK_URL is set) until `stop` is
        set, then finish the updates in flight; whatever failed on the way (storage,
        Telegram), stopping drains and returns normally. A newcomer that another process
        keeps from polling drains the same way, then raises `Misconfigured` (exit 2)."""
        app = self.app
        settings = self.settings
        server: web.AppRunner | None = None
        try:
            async with app:
                await routes.set_menus(app.bot, self.catalogs)
                server = await self._start_http()
                receiving = settings.role != "worker"
                if not receiving:
                    pass  # a worker answers what web replicas stored
                elif settings.webhook_url:
                    await register_webhook(app, settings)
                else:
                    assert app.updater is not None
                    # The offset moves past an update only once it is stored.
                    app.updater.update_queue = ReceiptQueue(self.durable)
                    await app.updater.start_polling(
                        timeout=LONG_POLL_TIMEOUT,
                        allowed_updates=Update.ALL_TYPES,
                        error_callback=_noted_by_the_polling_request,
                    )
                await app.start()
                taking = asyncio.Event()
                if settings.role == "web":
                    taking.set()  # a web replica stores updates; workers answer them
                working = asyncio.create_task(self.durable.run(taking))
                role = "" if settings.role == "both" else f" (role {settings.role})"
                logger.info("bot @%s is running%s", app.bot.username, role)
                self.health.phase = Phase.SERVING
                self.ready.set()
                flushing = asyncio.create_task(self._flush_stats_until(stop))
                try:
                    await _first_of(stop, self.conflict.superseded)
                finally:
                    stop.set()  # superseded, the newcomer stops as if told to
                    self.health.phase = Phase.STOPPING
                    await self._drain(server, taking, working)
                    server = None
                    await flushing
            if self.conflict.superseded.is_set():
                raise self.conflict.failure(settings)
        finally:
            if server is not None:
                await server.cleanup()
            await self.close()

    async def _drain(
        self, server: web.AppRunner | None, taking: asyncio.Event, working: asyncio.Task[None]
    ) -> None:
        """Take no new updates, then finish those fetched, bounded by the photo deadline.
        Stored updates not yet taken stay stored for another replica or the next start."""
        logger.info("stopping: no new updates; finishing photos in flight")
        app = self.app
        if server is not None:
            await server.cleanup()
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        taking.set()
        await working
        # In-flight photos end by their own deadline; this bounds the wait
        # even if one of them hangs in a reply.
        limit = self.settings.photo_deadline_seconds + SHUTDOWN_SLACK
        try:
            async with asyncio.timeout(limit):
                if app.running:
                    await app.stop()  # hands over the updates still queued
                await self.updates.join()
        except TimeoutError:
            logger.error(
                "stopped after %.0f s with %d updates unfinished", limit, self.updates.cancel()
            )

    async def _start_http(self) -> web.AppRunner | None:
        """Serve the webhook, /healthz and /metrics when a port is set or a webhook used."""
        settings = self.settings
        port = settings.http_port
        if port is None and not settings.webhook_url:
            return None
        webhook_path = (
            (urlsplit(settings.webhook_url).path or "/")
            if settings.webhook_url and settings.role != "worker"
            else None
        )
        secret = settings.webhook_secret_token
        runner = web.AppRunner(
            web_app(
                bot=self.app.bot,
                receive=self.durable.receive,
                health=self.health.report,
                webhook_path=webhook_path,
                secret=secret.get_secret_value() if secret else None,
            ),
            access_log=None,
        )
        await runner.setup()
        port = DEFAULT_HTTP_PORT if port is None else port
        try:
            await web.TCPSite(runner, settings.http_listen, port).start()
        except OSError as exc:
            await runner.cleanup()
            address = f"{settings.http_listen}:{port}"
            raise Misconfigured("HTTP_PORT", address, f"cannot listen: {exc.strerror}") from None
        return runner


async def _first_of(*events: asyncio.Event) -> None:
    """Wait until any of `events` is set."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def _noted_by_the_polling_request(_: TelegramError) -> None:
    """The polling request has already noted the failure (one WARNING when an outage
    starts, one when it ends); without this callback the library would log a traceback
    for every failed poll (656 lines in 25 s of an outage)."""
