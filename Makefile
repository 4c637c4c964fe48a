# The two commands a new user needs: `make demo` and `make test`. Both install what is missing first.
.PHONY: demo test bench lint setup clean

VENV := .venv/bin

setup:
	@scripts/bootstrap.sh

demo: setup
	$(VENV)/guardian demo

test: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy
	$(VENV)/pytest -q

bench: setup
	$(VENV)/python -m benchmarks.run

lint: setup
	$(VENV)/ruff check .
	$(VENV)/mypy

clean:
	rm -rf var build .pytest_cache .mypy_cache .ruff_cache .hypothesis
