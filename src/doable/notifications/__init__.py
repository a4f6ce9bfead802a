"""In-app notifications: the list a user reads, pushed over Socket.IO as they arrive."""
