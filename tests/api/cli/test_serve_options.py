"""``switchover serve`` runs uvicorn on httptools (HTTP parsed in C) and uvloop (a libuv
event loop), both installed with the package, not on the pure-Python defaults."""

from __future__ import annotations

from pathlib import Path

import uvicorn
import uvloop
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.cli.serve import server_options
from tests.conftest import hash_settings


def test_serve_names_httptools_and_uvloop_and_both_load(tmp_path: Path) -> None:
    settings = hash_settings(tmp_path / "home")
    options = server_options(settings, "warning")

    config = uvicorn.Config(FastAPI(), **options)
    config.load()

    assert (options["http"], options["loop"]) == ("httptools", "uvloop")
    assert config.http_protocol_class is HttpToolsProtocol
    factory = config.get_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_serve_binds_where_the_settings_say(tmp_path: Path) -> None:
    settings = hash_settings(tmp_path / "home")

    options = server_options(settings, "info")

    assert (options["host"], options["port"], options["log_level"]) == (
        settings.host,
        settings.port,
        "info",
    )
