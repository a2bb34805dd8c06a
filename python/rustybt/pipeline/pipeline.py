"""``Pipeline``: named columns and a screen (zipline's ``zipline.pipeline.Pipeline``)."""

from __future__ import annotations

from rustybt.errors import PipelineError
from rustybt.pipeline.term import ComputableTerm, Filter, LoadableTerm, Term


class Pipeline:
    """What to compute on each date: ``columns`` (name → factor, filter or classifier)
    for the assets that pass ``screen`` (a filter; default: every asset that exists).

    Example:
        >>> from rustybt.pipeline import Pipeline
        >>> from rustybt.pipeline.factors import RSI, AverageDollarVolume
        >>> pipe = Pipeline(columns={"rsi": RSI()}, screen=AverageDollarVolume(window_length=30).top(50))
        >>> sorted(pipe.columns)
        ['rsi']
    """

    def __init__(self, columns=None, screen=None, domain=None):
        self._columns: dict[str, Term] = {}
        for name, term in (columns or {}).items():
            self.add(term, name)
        self._screen = None
        if screen is not None:
            self.set_screen(screen)
        self.domain = domain

    @property
    def columns(self) -> dict[str, Term]:
        """The pipeline's columns (a copy)."""
        return dict(self._columns)

    @property
    def screen(self) -> Filter | None:
        return self._screen

    def add(self, term, name: str, overwrite: bool = False) -> None:
        """Add ``term`` as column ``name`` (an existing name needs ``overwrite=True``)."""
        if not isinstance(name, str) or not name:
            raise PipelineError(f"a pipeline column needs a non-empty string name, got {name!r}")
        if name in self._columns and not overwrite:
            raise PipelineError(
                f"column {name!r} already exists (pass overwrite=True to replace it)"
            )
        if isinstance(term, LoadableTerm):
            raise PipelineError(
                f"column {name!r}: {term!r} is a dataset column, not a computed term; use "
                f"{term!r}.latest for its latest value"
            )
        if not isinstance(term, ComputableTerm):
            raise PipelineError(
                f"column {name!r} must be a Factor, Filter or Classifier, got {term!r}"
            )
        self._columns[name] = term

    def remove(self, name: str) -> Term:
        """Remove column ``name`` and return its term."""
        try:
            return self._columns.pop(name)
        except KeyError:
            raise PipelineError(f"the pipeline has no column {name!r}") from None

    def set_screen(self, screen, overwrite: bool = False) -> None:
        """Only assets passing ``screen`` appear in the output."""
        if self._screen is not None and not overwrite:
            raise PipelineError(
                "the pipeline already has a screen (pass overwrite=True to replace it)"
            )
        if not isinstance(screen, Filter):
            raise PipelineError(f"a screen must be a Filter, got {screen!r}")
        self._screen = screen

    def __repr__(self) -> str:
        return f"Pipeline(columns={list(self._columns)}, screen={self._screen!r})"


__all__ = ["Pipeline"]
