"""Categories: each user's labels, linked to tasks many-to-many."""
