.PHONY: run test bench bench-smoke

run:
	scripts/run

test:
	scripts/test

# The benchmark needs PostgreSQL, Redis and wrk (apt-get install wrk); see docs/performance.md.
bench:
	scripts/bootstrap && .venv/bin/python bench/run.py $(ARGS)

bench-smoke:
	scripts/bootstrap && .venv/bin/python bench/run.py --smoke $(ARGS)
