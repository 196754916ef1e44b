"""Dependencies as types: routes declare ``svc: Service`` and get the app's facade."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from migrator import Switchover


async def get_service(request: Request) -> Switchover:
    # async: a plain attribute read, so FastAPI need not hand it to a worker thread (a
    # sync dependency costs each request one more thread hop before the route runs)
    service: Switchover = request.app.state.service
    return service


Service = Annotated[Switchover, Depends(get_service)]
