"""The Host header check: IP literals and localhost pass, other names only when allowed."""

from __future__ import annotations

import socket

import pytest

from sockscope.api.hosts import host_name, host_refusal
from sockscope.settings import Settings, from_env

from live import LiveServer, serve


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("127.0.0.1:8000", "127.0.0.1"),
        ("192.168.1.20", "192.168.1.20"),
        ("[::1]:8000", "::1"),
        ("[fe80::1]", "fe80::1"),
        ("LocalHost:80", "localhost"),
        ("evil.example", "evil.example"),
    ],
)
def test_the_name_of_a_host_header(host: str, name: str) -> None:
    assert host_name(host) == name


@pytest.mark.parametrize(
    "host", [None, "127.0.0.1:8000", "10.0.0.7", "[::1]:8000", "localhost:8000", "app.localhost"]
)
def test_addresses_and_localhost_pass(host: str | None) -> None:
    assert host_refusal(host, ()) is None


def test_another_name_is_refused_unless_allowed() -> None:
    why = host_refusal("evil.example:8000", ())
    assert why is not None
    assert "'evil.example'" in why and "--allowed-host evil.example" in why
    assert host_refusal("Workshop.Lan:8000", ("workshop.lan",)) is None
    assert host_refusal("workshop.lan.evil.example", ("workshop.lan",)) is not None


def test_a_rebinding_page_cannot_make_a_lab(live: LiveServer) -> None:
    """Before: Host and Origin both evil.example, and POST /api/labs answered 201."""
    evil = {"host": "evil.example", "origin": "http://evil.example"}
    response = live.client.post("/api/labs", headers=evil)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["field"] == "host"
    assert "does not answer to the name 'evil.example'" in error["message"]
    assert live.client.get("/api/server", headers={"host": "evil.example"}).status_code == 403
    assert live.client.get("/healthz").status_code == 200  # its own address passes


def handshake_status(live: LiveServer, path: str, host: str) -> bytes:
    """The status line a websocket handshake with this Host header gets (a raw socket: a
    websocket client sets Host itself)."""
    port = int(live.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        return conn.makefile("rb").readline()


def test_a_websocket_with_another_name_is_refused(live: LiveServer) -> None:
    lab = live.new_lab()
    path = f"/api/labs/{lab}/ws"
    port = live.url.rsplit(":", 1)[1]
    assert b" 101 " in handshake_status(live, path, f"127.0.0.1:{port}")
    assert b" 403 " in handshake_status(live, path, "evil.example")


def test_an_allowed_name_passes() -> None:
    for server in serve(Settings(allowed_hosts=("workshop.lan",), in_container=False)):
        headers = {"host": "workshop.lan:8000", "origin": "http://workshop.lan:8000"}
        assert server.client.post("/api/labs", headers=headers).status_code == 201


def test_the_environment_names_allowed_hosts() -> None:
    found = from_env({"SOCKSCOPE_ALLOWED_HOSTS": "workshop.lan, laptop.local"})
    assert found["allowed_hosts"] == ("workshop.lan", "laptop.local")
