"""Guards for tortoise's migration writer: model docstrings become SQL table comments."""

from __future__ import annotations

import importlib

from tortoise.models import Model

from server.db import MODEL_MODULES


def test_model_docstrings_are_safe_as_sql_comments() -> None:
    # A ";" splits the statement on SQLite and a quote ends the string: both broke migrations once.
    offenders = []
    for module_name in MODEL_MODULES:
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, Model) and value.__module__ == module_name and value.__doc__:
                if ";" in value.__doc__ or "'" in value.__doc__:
                    offenders.append(f"{module_name}.{name}")
    assert not offenders, offenders
