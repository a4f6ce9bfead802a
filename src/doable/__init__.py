"""Doable: a self-hosted task manager."""

from doable.app import create_app

__all__ = ["create_app"]
