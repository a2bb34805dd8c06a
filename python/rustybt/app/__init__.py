"""The application layer: the ``rustybt`` command line (:mod:`rustybt.app.cli`), the HTML tear
sheet (:mod:`rustybt.app.tearsheet`) and the example strategies (:mod:`rustybt.app.examples`).

Layering (checked by import-linter, see ``[tool.importlinter]`` in pyproject.toml): the
library (every other ``rustybt`` module) never imports this package; this package never
imports :mod:`rustybt.tooling`, whose commands (``rustybt bench``, ``rustybt profile``) the
command line finds through the ``rustybt.commands`` entry-point group.
"""
