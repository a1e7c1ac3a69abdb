"""Composition root: settings in, the whole bot built and wired. Running it (long polling or
a webhook, then the drain) is `Serving`'s, in bot/tg/application.py: nothing here imports
`telegram`, and nothing here runs."""

from __future__ import annotations

import asyncio
import logging

import httpx

from bot.access import Access
from bot.config import Settings
from bot.health import Dependency, Health, Load, ObservedRecognizer, RecentOutcomes
from bot.i18n import Catalogs
from bot.metrics import (
    DECODE_BUDGET_BYTES,
    DECODE_BUDGET_IN_USE,
    DECODE_WORKERS_BUSY,
    DEPENDENCY_UP,
)
from bot.photo.alerts import OperatorAlerts, Send
from bot.photo.budget import ByteBudget
from bot.photo.cache import ResultCache
from bot.photo.cutouts import CutoutFetcher, CutoutOffers
from bot.photo.decoding import DecodePool
from bot.photo.fairness import Fairness
from bot.photo.frames import WorkerFault
from bot.photo.near import NearDuplicates
from bot.photo.near_store import NearStore, open_near_store
from bot.photo.pipeline import PhotoPipeline
from bot.photo.preparing import ImageWork
from bot.photo.quotas import Quotas
from bot.photo.rules import download_limit
from bot.recognition.client import Recognizer
from bot.slots import WorkSlots
from bot.startup import Misconfigured, open_storage
from bot.stats import Stats
from bot.storage import State
from bot.storage.guard import GuardedIntake, StorageUnavailable
from bot.storage.guarded import GuardedStorage
from bot.storage.intake import Intake
from bot.tg import routes
from bot.tg.admission import Admission
from bot.tg.application import WEBHOOK_FAILURES_TO_DOWN, Serving, build_application
from bot.tg.chat_commands import ChatCommands
from bot.tg.chat_events import ChatEvents
from bot.tg.chats import Chats
from bot.tg.conflict import PollingConflict
from bot.tg.cutout_presses import CutoutButtons
from bot.tg.download import TelegramDownloader
from bot.tg.enforcer import Enforcer
from bot.tg.errors import ErrorHandler
from bot.tg.gate import CommandGate
from bot.tg.intake import DurableUpdates, SetAsideAnswers
from bot.tg.members import BotRights, ChatAdmins
from bot.tg.moderator import Moderator
from bot.tg.outbox import Outbox
from bot.tg.photos import PhotoRoutes
from bot.tg.presses import ReportPresses
from bot.tg.reports import Reporter
from bot.tg.sanctions import Sanctions
from bot.tg.settings_menu import SettingsMenu
from bot.tg.updates import BoundedUpdates

logger = logging.getLogger(__name__)


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
        self.catalogs = Catalogs()
        self.recognizer = Recognizer.for_settings(settings, settings.deerapi_api_key)
        self.updates = BoundedUpdates(WorkSlots(settings.max_concurrent_updates))
        self.conflict = PollingConflict()
        self.app = build_application(
            settings, telegram=health.telegram, updates=self.updates, conflict=self.conflict
        )
        health.load = self._load
        DEPENDENCY_UP.labels("storage").set_function(lambda: 0 if health.storage.down else 1)
        DEPENDENCY_UP.labels("telegram").set_function(lambda: 0 if health.telegram.down else 1)
        bot = self.app.bot
        outbox = Outbox(bot)
        chats = Chats(storage, outbox, ChatAdmins(bot), BotRights(bot), self.catalogs)
        admin = settings.admin_chat_id
        operator = outbox.sender_to(admin) if admin is not None else None
        self.stats = Stats(storage)
        self.downloader = TelegramDownloader(
            bot,
            settings.telegram_timeout_seconds,
            download_limit(settings.telegram_local_mode),
            settings.max_concurrent_downloads,
        )
        quotas = Quotas(
            storage,
            per_user=settings.user_daily_limit,
            per_group=settings.group_daily_limit,
            overall=settings.global_daily_limit,
        )
        memory = ByteBudget(settings.memory_budget_mb * 1_000_000)
        pipeline = self._photo_pipeline(quotas, operator, memory)
        cutouts = self._cutouts(chats, memory, cutout_client)
        admission = Admission(
            chats=chats,
            access=Access(
                allowed_users=settings.allowed_user_ids,
                allowed_chats=settings.allowed_chat_ids,
                bot_admins=settings.admin_user_ids,
                all_groups=settings.allow_all_groups,
            ),
        )
        self.durable = DurableUpdates(
            intake,
            bot=bot,
            queue=self.app.update_queue,
            capacity=settings.max_concurrent_updates,
            max_backlog=settings.intake_max_backlog,
            on_set_aside=SetAsideAnswers(chats=chats, admission=admission, operator=operator),
        )
        self.updates.observer = self.durable
        self._route(chats, admission, pipeline, quotas, operator, cutouts)
        self.serving = Serving(
            app=self.app,
            settings=settings,
            updates=self.updates,
            durable=self.durable,
            health=health,
            catalogs=self.catalogs,
            flush=self._flush_stats,
            close=self.close,
            conflict=self.conflict,
        )
        self.ready = self.serving.ready

    def _photo_pipeline(
        self, quotas: Quotas, operator: Send | None, memory: ByteBudget
    ) -> PhotoPipeline:
        """The photo path and what it owns: the cache, the decode workers and their budget,
        near-duplicates."""
        settings = self.settings
        # A process that waits for another's call (its claim renewed while it runs, see
        # bot/photo/cache.py) gives up in time to make its own before its photo's deadline
        # (by default after 30 s).
        wait_seconds = max(
            0.0, settings.photo_deadline_seconds - settings.api_total_deadline_seconds
        )
        self.cache = ResultCache(
            self.storage, ttl=settings.cache_ttl_hours * 3600, wait_seconds=wait_seconds
        )
        self.decoders = DecodePool(settings.decode_workers, settings.decode_cpu_seconds)
        self.decode_budget = decode_budget = ByteBudget(settings.decode_budget_mb * 1_000_000)
        self.near = (
            None
            if self.near_store is None
            else NearDuplicates(self.near_store, ttl=settings.cache_ttl_hours * 3600)
        )
        DECODE_BUDGET_IN_USE.set_function(lambda: decode_budget.in_use)
        DECODE_BUDGET_BYTES.set(decode_budget.capacity)
        DECODE_WORKERS_BUSY.set_function(lambda: len(self.decoders.busy_pids))
        return PhotoPipeline(
            ObservedRecognizer(self.recognizer, self.health.api),
            self.downloader,
            cache=self.cache,
            quotas=quotas,
            stats=self.stats,
            alerts=OperatorAlerts(operator),
            max_concurrent_downloads=settings.max_concurrent_downloads,
            memory=memory,
            images=ImageWork(decode_budget, self.decoders, printed=self.near_store is not None),
            deadline=settings.photo_deadline_seconds,
            download_limit=download_limit(settings.telegram_local_mode),
            near=self.near,
        )

    def _cutouts(
        self, chats: Chats, memory: ByteBudget, client: httpx.AsyncClient | None
    ) -> CutoutButtons:
        """The "Show cut-outs" button. Cut-outs are checked as images, but never
        fingerprinted: they are no one's photo. With no host allowed there is no button,
        and no HTTP client is made for it."""
        settings = self.settings
        self.cutout_fetcher = (
            CutoutFetcher(
                settings.cutout_hosts, ImageWork(self.decode_budget, self.decoders), client
            )
            if settings.cutout_hosts
            else None
        )
        return CutoutButtons(
            chats=chats,
            offers=None
            if self.cutout_fetcher is None
            else CutoutOffers(
                self.storage,
                self.cache,
                self.cutout_fetcher,
                memory,
                cache_ttl=settings.cache_ttl_hours * 3600,
            ),
            bot_name=lambda: self.app.bot.username,
        )

    def _route(
        self,
        chats: Chats,
        admission: Admission,
        pipeline: PhotoPipeline,
        quotas: Quotas,
        operator: Send | None,
        cutouts: CutoutButtons,
    ) -> None:
        """The Telegram layer's handlers, each given what it carries out, in the one route
        table (bot/tg/routes.py)."""
        settings = self.settings
        bot = self.app.bot
        sanctions = Sanctions(bot)
        reporter = Reporter(chats=chats, report_chat_id=settings.report_chat_id)
        photos = PhotoRoutes(
            chats=chats,
            admission=admission,
            pipeline=pipeline,
            moderator=Moderator(
                chats=chats,
                pipeline=pipeline,
                enforcer=Enforcer(chats=chats, sanctions=sanctions, reporter=reporter),
                reporter=reporter,
                stats=self.stats,
                operator=operator,
            ),
            fairness=Fairness(
                per_key=settings.per_user_in_flight,
                max_waiting=settings.max_waiting_photos,
                while_waiting=self.updates.slots.set_aside,
            ),
            spawn=self.app.create_task,
            slots=self.updates.slots,
            album_quiet_seconds=settings.album_quiet_seconds,
            cutouts=cutouts,
            defer=lambda: self.durable.defer(),
        )
        gate = CommandGate(chats=chats, bot=bot, admission=admission)
        routes.register(
            self.app,
            chat_commands=ChatCommands(
                chats=chats,
                admission=admission,
                quotas=quotas,
                stats=self.stats,
                photos=photos,
                gate=gate,
                menu=SettingsMenu(chats=chats, bot=bot, gate=gate),
                concurrency=lambda: self.recognizer.concurrency_limit,
            ),
            photos=photos,
            presses=ReportPresses(chats=chats, sanctions=sanctions),
            cutouts=cutouts,
            chat_events=ChatEvents(chats=chats, reporter=reporter),
            errors=ErrorHandler(chats=chats, admission=admission),
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

    async def run(self, stop: asyncio.Event) -> None:
        """Serve updates until `stop` is set, then drain and close (bot/tg/application.py)."""
        await self.serving.run(stop)

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

    async def _flush_stats(self) -> None:
        """Write the day's counts; a failure keeps them for the next try (the outage itself
        is logged by the storage guard)."""
        try:
            await self.stats.flush()
        except StorageUnavailable:
            pass
        except Exception:
            logger.exception("writing the daily counts failed; kept for the next try")
