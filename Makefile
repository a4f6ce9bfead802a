# Thin wrappers; the scripts are what README and CI use.
.PHONY: run test lint fast
run:
	./scripts/serve
test:
	./scripts/test
fast:
	./scripts/test -m "not slow"
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy
