"""Dependencies as types: routes declare ``svc: Service`` and get the app's facade."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from migrator import Switchover


def service_of(request: Request) -> Switchover:
    """The app's facade (opened in the lifespan)."""
    service: Switchover = request.app.state.service
    return service


async def get_service(request: Request) -> Switchover:
    # async: a plain attribute read, so FastAPI need not hand it to a worker thread (a
    # sync dependency costs each request one more thread hop before the route runs)
    return service_of(request)


Service = Annotated[Switchover, Depends(get_service)]
