.PHONY: install test slow quality style demo lock
install:
	pip install -e '.[dev]' -c constraints.txt
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
lock:  # refresh constraints.txt: newest allowed versions, tested, then pinned
	bash .ci/lock.sh
