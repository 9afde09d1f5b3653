"""Where alerts go: a JSON-lines file, a webhook (HMAC-SHA256 signed POST), SMTP email.

A sink delivers one payload (a JSON-able dict with an `alert` and a `delivery_id`) or raises
DeliveryError; retries with exponential backoff and the durable outbox are the pipeline's job
(pipeline/alerting.py), so no alert is lost while a receiver is down.

Webhook requests carry `X-Sitewatch-Signature: sha256=<hex HMAC-SHA256 of the raw body under the
shared secret>` and `X-Sitewatch-Delivery: <delivery id>` (the same on every retry, so a receiver
can drop a repeat that follows a lost acknowledgement). The JSON-lines sink skips a delivery id
it has already written, so a crash between writing and recording does not duplicate a line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from sitewatch.errors import ConfigError, DeliveryError

SIGNATURE_HEADER = "X-Sitewatch-Signature"
DELIVERY_HEADER = "X-Sitewatch-Delivery"


class AlertSink(Protocol):
    """Delivers alert payloads somewhere."""

    name: str

    def deliver(self, payload: dict[str, Any]) -> None:
        """Deliver one payload, or raise DeliveryError."""
        ...


def encode_payload(payload: dict[str, Any]) -> bytes:
    """The canonical JSON bytes of a payload (what is signed and sent)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def sign(body: bytes, secret: str) -> str:
    """The signature header value of a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: str) -> bool:
    """Whether a signature header is valid for a body (constant-time compare)."""
    return hmac.compare_digest(sign(body, secret), header)


class JsonlSink:
    """Appends one JSON line per delivery to a file (fsynced)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = "jsonl"  # the file may move; pending items follow it

    def deliver(self, payload: dict[str, Any]) -> None:
        """Append the payload unless its delivery id is already in the file."""
        try:
            content = self.path.read_bytes() if self.path.exists() else b""
            delivered = set()
            for line in content.splitlines():
                try:
                    delivered.add(str(json.loads(line).get("delivery_id")))
                except ValueError:
                    continue  # a line torn by a crash: that delivery is written again
            if str(payload.get("delivery_id")) in delivered:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            torn = bool(content) and not content.endswith(b"\n")
            with self.path.open("ab") as f:
                # a line torn by a crash is closed first, so it cannot swallow this one
                f.write((b"\n" if torn else b"") + encode_payload(payload) + b"\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise DeliveryError(f"{self.path}: cannot write alert ({exc})") from exc


class WebhookSink:
    """POSTs the JSON payload to a URL with an HMAC-SHA256 signature header."""

    def __init__(self, url: str, secret: str, timeout_s: float = 10.0) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(
                f"webhook URL {url!r} is not an http(s) URL; use e.g. https://example.org/hook"
            )
        if not secret:
            raise ConfigError("webhook secret is empty; set SITEWATCH_WEBHOOK_SECRET")
        self.url = url
        self.secret = secret
        self.timeout_s = timeout_s
        self.name = f"webhook:{parsed.scheme}://{parsed.netloc}{parsed.path}"

    def deliver(self, payload: dict[str, Any]) -> None:
        """One POST; any answer other than 2xx is a DeliveryError."""
        body = encode_payload(payload)
        req = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(body, self.secret),
                DELIVERY_HEADER: str(payload.get("delivery_id", "")),
                "User-Agent": "sitewatch",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                status = resp.status
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"{self.name}: HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(f"{self.name}: {exc}") from exc
        if not 200 <= status < 300:
            raise DeliveryError(f"{self.name}: HTTP {status}")


class SmtpSink:
    """Sends each alert as a plain-text email."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: list[str],
        starttls: bool = False,
        user: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        if not recipients or not sender:
            raise ConfigError("SMTP alerts need a sender and at least one recipient")
        self.host, self.port, self.sender, self.recipients = host, port, sender, recipients
        self.starttls, self.user, self.password, self.timeout_s = (
            starttls,
            user,
            password,
            timeout_s,
        )
        self.name = f"smtp:{host}:{port}"

    def deliver(self, payload: dict[str, Any]) -> None:
        """Send one message."""
        alert = payload.get("alert", {})
        msg = EmailMessage()
        msg["Subject"] = f"[sitewatch] {alert.get('title', 'alert')}"
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Message-ID"] = f"<{payload.get('delivery_id', '')}@sitewatch>"
        evidence = alert.get("evidence", {})
        lines = [alert.get("rationale", ""), "", "Evidence:"]
        lines += [f"  {k}: {v}" for k, v in sorted(evidence.items())]
        msg.set_content("\n".join(lines))
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{self.name}: {exc}") from exc
