"""Dependencies as types: routes declare ``svc: Service`` and get the app's facade."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from migrator import Switchover


def get_service(request: Request) -> Switchover:
    service: Switchover = request.app.state.service
    return service


Service = Annotated[Switchover, Depends(get_service)]
