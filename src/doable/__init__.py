"""Doable: a self-hosted task manager."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The app factory (``doable.app.create_app``), imported only when called, so that
    ``doable serve`` can patch the standard library for gevent before anything else is
    imported (``doable.__main__``)."""
    from doable.app import create_app as build

    return build(config)
