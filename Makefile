.PHONY: run test bench bench-smoke bench-labels

run:
	scripts/run

test:
	scripts/test

# The benchmark needs PostgreSQL, Redis and wrk (apt-get install wrk); see docs/performance.md.
bench:
	scripts/bootstrap && .venv/bin/python bench/run.py $(ARGS)

bench-smoke:
	scripts/bootstrap && .venv/bin/python bench/run.py --smoke $(ARGS)

# Label rendering per worker, in-process (no services needed): docs/performance.md, "Labels".
bench-labels:
	scripts/bootstrap && .venv/bin/python bench/labels.py $(ARGS)
