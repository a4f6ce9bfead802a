"""The change feed (docs/api.md, Change feed): every change to a task, its categories,
shares and attachments, logged in the transaction that makes it, and each user's feed
of the changes they could see when they were made.

- ``models``: the log (``Change``), each user's feed (``FeedEntry``, numbered by
  ``FeedCursor``) and the answers kept for retried requests (``IdempotentRequest``).
- ``log``: how a service records a change (``record``), written by the unit of work
  just before it commits (``doable.unit_of_work.stage``).
"""
