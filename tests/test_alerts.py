"""Operator alerts: once per incident, again after a success or the repeat interval."""

from __future__ import annotations

import asyncio

from bot.photo.alerts import OperatorAlerts
from bot.photo.outcomes import Failed, Recognized
from bot.recognition.errors import ErrorKind, RecognitionError
from bot.recognition.results import RecognitionResult


async def test_one_alert_per_incident() -> None:
    sent: list[str] = []

    async def send(text: str) -> None:
        await asyncio.sleep(0.01)
        sent.append(text)

    alerts = OperatorAlerts(send, repeat_after=3600)
    auth = Failed(RecognitionError(ErrorKind.AUTH, status=401, code=1001, request_id="r1"))
    await asyncio.gather(*(alerts.observe(auth) for _ in range(5)))
    assert len(sent) == 1
    assert "HTTP 401, code 1001, request_id r1" in sent[0]

    await alerts.observe(Failed(RecognitionError(ErrorKind.SERVER, status=503)))
    assert len(sent) == 1, "a busy API is not the operator's incident"
    await alerts.observe(Failed(RecognitionError(ErrorKind.ACCOUNT, status=429, code=1101)))
    assert len(sent) == 2, "another kind is another incident"

    await alerts.observe(Recognized(RecognitionResult({})))
    await alerts.observe(auth)
    assert len(sent) == 3, "a success ended the incident"


async def test_repeats_after_the_interval_and_stays_silent_without_a_chat() -> None:
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    alerts = OperatorAlerts(send, repeat_after=0)
    auth = Failed(RecognitionError(ErrorKind.AUTH, status=401))
    await alerts.observe(auth)
    await alerts.observe(auth)
    assert len(sent) == 2
    await OperatorAlerts(None).observe(auth)
