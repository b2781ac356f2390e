.PHONY: install test slow quality style demo
install:
	pip install -e '.[dev]'
test:
	python -m pytest
slow:
	python -m pytest -m slow
quality:
	ruff check src tests benchmarks && ruff format --check src tests benchmarks
style:
	ruff check --fix src tests benchmarks && ruff format src tests benchmarks
demo:
	mmrft demo --out runs/demo
