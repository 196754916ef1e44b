"""The HTTP adapter: ``create_app(settings)`` builds the FastAPI application."""

from .app import create_app
from .errors import STATUS_BY_ERROR

__all__ = ["STATUS_BY_ERROR", "create_app"]
