"""The keys under which the signed web cookie holds a login: its user's id and its
login session's id. The pages write them (``doable.web.session``); the real-time
layer reads them to know whose page opened a socket."""

USER_KEY = "user_id"
SESSION_KEY = "auth_session_id"
