"""Scripts run by hand, not by pytest: a restart-churn reproducer, a broker-data inspector and an
atheris fuzz driver for the mention decoder (each module's docstring says how to run it)."""
