"""Webhook delivery through the outbox: a local receiver that fails its first attempts gets each
alert exactly once after it recovers, with a valid HMAC-SHA256 signature; bad URLs are refused."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sitewatch.alerts.sinks import DELIVERY_HEADER, SIGNATURE_HEADER, JsonlSink, WebhookSink, verify
from sitewatch.errors import ConfigError
from tests.pipeline.series import campaign, prepare

SECRET = "s3cret"


class Receiver:
    """Fails the first `fail_first` requests with 503, then answers 200; records everything."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.requests: list[tuple[int, dict[str, str], bytes]] = []
        self.lock = threading.Lock()


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    rec = Receiver(fail_first=3)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with rec.lock:
                code = 503 if len(rec.requests) < rec.fail_first else 200
                rec.requests.append((code, dict(self.headers.items()), body))
            self.send_response(code)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def test_each_alert_delivered_exactly_once_after_the_receiver_recovers(
    cli: Callable[..., Any],
    tmp_path: Path,
    receiver: tuple[Receiver, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rec, url = receiver
    model = prepare(cli, tmp_path, campaign())
    monkeypatch.setenv("SITEWATCH_WEBHOOK_URL", url)
    monkeypatch.setenv("SITEWATCH_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("SITEWATCH_DELIVERY_BASE_DELAY_S", "0.05")
    r = cli("run", "--model", str(model), "--json")
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    assert summary["new_alerts"], "the campaign must raise at least one alert"
    assert summary["delivery_retrying"]  # the receiver is down: the webhook item waits
    r = cli("alerts", "deliver", "--wait", "10")
    assert r.code == 0, r.out + r.err
    ok = [(h, b) for code, h, b in rec.requests if code == 200]
    delivered = [json.loads(b)["alert"]["id"] for _, b in ok]
    assert sorted(delivered) == sorted(a["id"] for a in summary["new_alerts"])
    assert len(set(delivered)) == len(delivered)  # exactly once
    for headers, body in ok:
        assert verify(body, SECRET, headers[SIGNATURE_HEADER])
        assert headers[DELIVERY_HEADER] == json.loads(body)["delivery_id"]
    assert not verify(ok[0][1], "wrong-secret", ok[0][0][SIGNATURE_HEADER])
    before = len(rec.requests)
    assert cli("run", "--model", str(model)).code == 0
    assert cli("alerts", "deliver").code == 0
    assert len(rec.requests) == before  # nothing is sent twice


@pytest.mark.parametrize(
    "url", ["ftp://example.org/hook", "file:///etc/passwd", "example.org/hook"]
)
def test_non_http_webhook_url_is_refused_at_configuration(
    cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    with pytest.raises(ConfigError, match="is not an http\\(s\\) URL"):
        WebhookSink(url, SECRET)
    monkeypatch.setenv("SITEWATCH_WEBHOOK_URL", url)
    r = cli("alerts", "list")
    assert r.code == 2 and "SITEWATCH_WEBHOOK_URL" in r.err and "not an http(s) URL" in r.err


def test_jsonl_sink_skips_a_delivery_it_already_wrote(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "alerts.jsonl")
    sink.deliver({"delivery_id": "d1", "alert": {"id": "a"}})
    sink.deliver({"delivery_id": "d1", "alert": {"id": "a"}})
    sink.deliver({"delivery_id": "d2", "alert": {"id": "b"}})
    assert len((tmp_path / "alerts.jsonl").read_text().splitlines()) == 2


def test_a_delivery_that_gave_up_can_be_retried(
    cli: Callable[..., Any],
    tmp_path: Path,
    receiver: tuple[Receiver, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rec, url = receiver
    rec.fail_first = 1000  # down for good
    model = prepare(cli, tmp_path, campaign())
    monkeypatch.setenv("SITEWATCH_WEBHOOK_URL", url)
    monkeypatch.setenv("SITEWATCH_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("SITEWATCH_DELIVERY_BASE_DELAY_S", "0.01")
    monkeypatch.setenv("SITEWATCH_DELIVERY_MAX_ATTEMPTS", "3")
    assert cli("run", "--model", str(model)).code == 0
    r = cli("alerts", "deliver", "--wait", "5")
    assert r.code == 1 and "failed 1" in r.out
    assert len(rec.requests) == 3  # gave up after max attempts, nothing lost
    rec.fail_first = 0
    assert cli("alerts", "deliver").code == 0  # failed items stay failed ...
    assert len(rec.requests) == 3
    r = cli("alerts", "deliver", "--retry-failed")  # ... until asked again
    assert r.code == 0 and "delivered 1" in r.out


def test_jsonl_sink_closes_a_line_torn_by_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_text('{"delivery_id": "d1", "alert": {"id": "a"}}\n{"delivery_id": "d2", "al')
    JsonlSink(path).deliver({"delivery_id": "d2", "alert": {"id": "b"}})
    lines = path.read_text().splitlines()
    assert json.loads(lines[-1])["delivery_id"] == "d2" and len(lines) == 3
