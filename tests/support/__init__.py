"""What the tests share, laid out like the app: data factories, the one account type and
the API client (``factories``); per-domain helpers (``tasks``, ``categories``,
``sharing``, ``attachments``, ``auth``); the permission-matrix engine (``matrix``); the
signal recorder (``signals``); real ``doable serve`` processes (``servers``) and
Socket.IO clients against them (``realtime``)."""
