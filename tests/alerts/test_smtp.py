"""SMTP email alerts against a local SMTP server; a server that is down is a DeliveryError."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest

from sitewatch.alerts.sinks import SmtpSink
from sitewatch.errors import ConfigError, DeliveryError


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_alert_email_is_sent_with_title_rationale_and_evidence(
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    sink = SmtpSink(
        "127.0.0.1", port, "sitewatch@example.org", ["ana@example.org", "bob@example.org"]
    )
    payload = {
        "delivery_id": "d1",
        "alert": {
            "title": "Launch preparation at sohae: likely",
            "rationale": "9 large vehicles at Assembly; usual 0-2.",
            "evidence": {"scene_ids": ["sc-1"], "rule_pack": "launch-preparation@1.0.0"},
        },
    }
    sink.deliver(payload)
    [(rcpts, msg)] = inbox.messages
    assert rcpts == ["ana@example.org", "bob@example.org"]
    assert msg["Subject"] == "[sitewatch] Launch preparation at sohae: likely"
    body = msg.get_payload()
    assert "9 large vehicles at Assembly" in body and "launch-preparation@1.0.0" in body


def test_server_down_is_a_delivery_error_and_config_is_checked() -> None:
    sink = SmtpSink("127.0.0.1", _free_port(), "a@example.org", ["b@example.org"], timeout_s=2)
    with pytest.raises(DeliveryError, match=r"smtp:127\.0\.0\.1"):
        sink.deliver({"delivery_id": "d", "alert": {}})
    with pytest.raises(ConfigError, match="need a sender and at least one recipient"):
        SmtpSink("127.0.0.1", 25, "", [])
