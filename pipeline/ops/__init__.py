"""Operator tools behind ``tocsin`` sub-commands: topic admin, ``notify test``, the silences CLI,
the demo and the processes it starts."""
