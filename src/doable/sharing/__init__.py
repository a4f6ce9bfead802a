"""Sharing a task with another user, with view or edit permission."""
