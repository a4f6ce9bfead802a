"""Reminders: when each fires, the record that it fired (once), the worker step that
fires them, email, and the daily digest."""
