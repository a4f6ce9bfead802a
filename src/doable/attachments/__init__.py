"""File attachments on tasks: streamed uploads, stored under generated names."""
