"""The command line adapter: ``switchover``, an HTTP client of the API, and its demo and drill."""

from .group import main

__all__ = ["main"]
