"""Three server shapes serve the same slow clients; their workers are counted."""

from __future__ import annotations

import pytest

from sockscope.workbench import shapes


def test_each_shape_serves_every_client() -> None:
    # The clients think long enough that the last fork starts before the first child is
    # done, even on a loaded 2-core machine (150 ms once let a child finish first).
    config = shapes.ShapesConfig(clients=6, think_ms=400)
    results = {r.shape: r for r in shapes.compare(config)}
    assert set(results) == {"thread", "process", "select"}
    for result in results.values():
        assert result.served == 6 and result.seconds >= 0.4
    assert results["thread"].peak_workers == 6 and results["thread"].peak_blocked == 6
    assert results["process"].peak_workers == 6, results["process"].samples
    assert results["select"].peak_workers == 1 and results["select"].peak_blocked == 0


def test_fast_clients_need_fewer_threads_at_once() -> None:
    """The worker count follows the clients: with no thinking they overlap less (can fail)."""
    result = shapes.run_shape("thread", shapes.ShapesConfig(clients=1, think_ms=0))
    assert result.served == 1 and result.peak_workers <= 1


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="clients"):
        shapes.ShapesConfig(clients=100)


def test_forked_children_do_not_hold_the_servers_other_sockets() -> None:
    """A close() elsewhere in the server must reach its peer while the children live."""
    import socket
    import threading
    import time

    listener = socket.create_server(("127.0.0.1", 0))
    with listener, socket.create_connection(listener.getsockname(), timeout=5) as peer:
        mine, _ = listener.accept()
        run = threading.Thread(
            target=shapes.run_shape, args=("process", shapes.ShapesConfig(clients=4, think_ms=800))
        )
        run.start()
        time.sleep(0.3)  # the children are forked and waiting for their clients
        mine.close()
        start = time.monotonic()
        assert peer.recv(10) == b""
        assert time.monotonic() - start < 0.4, "a forked child kept the socket open"
        run.join(10)
