"""The emulator's lifecycle: it always stops, frees its port, and refuses a second one in the same process."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

import pytest

from generator.local.emulator import LocalAws


def test_emulator_stops_and_frees_its_port() -> None:
    with LocalAws() as emulator:
        port = urlparse(emulator.endpoint_url).port
        assert emulator.running
    assert not emulator.running
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port or 0)) != 0


def test_one_emulator_per_process_and_stop_on_error() -> None:
    with pytest.raises(ZeroDivisionError):
        with LocalAws() as emulator:
            with pytest.raises(RuntimeError, match="another local AWS emulator is running"):
                LocalAws().start()
            1 / 0  # noqa: B018 - an error inside the block must still stop the emulator
    assert not emulator.running
    with LocalAws() as again:
        assert again.running
