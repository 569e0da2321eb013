"""Tocsin's benchmark harness: real broker, real workers, a paced mention stream, figures out.

``python -m bench.run --quick`` (or ``make bench``) writes ``bench/results/latest.{json,md,png}``.
These are scripts that print and record figures, never timed tests: a shared CI machine would make
any threshold on a wall-clock rate flaky. ``bench/README.md`` says what each figure means.
"""
