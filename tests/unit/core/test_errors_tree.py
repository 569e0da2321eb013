"""Every exception class defined in ``pipeline/`` and ``models/`` joins the tree drawn in
``pipeline/errors.py``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import models
import pipeline
from pipeline import errors
from pipeline.errors import TocsinError


def _exceptions() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    infos = [
        *pkgutil.walk_packages(pipeline.__path__, "pipeline."),
        *pkgutil.walk_packages(models.__path__, "models."),
    ]
    for info in infos:
        module = importlib.import_module(info.name)  # every dependency is in the project's venv
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == module.__name__
            ):
                found.append(obj)
    return found


def test_every_pipeline_exception_is_a_tocsin_error_and_public_ones_are_drawn() -> None:
    found = _exceptions()
    assert len(found) > 30
    outside = [f"{c.__module__}.{c.__qualname__}" for c in found if not issubclass(c, TocsinError)]
    assert outside == []
    drawing = errors.__doc__ or ""
    undrawn = [c.__name__ for c in found if not c.__name__.startswith("_")]
    assert [name for name in undrawn if name not in drawing] == []
