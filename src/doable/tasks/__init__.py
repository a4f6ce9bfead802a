"""Tasks: the heart of Doable."""
