"""The read-only iCalendar feed of a user's tasks, behind a revocable token."""
