"""Cancel policies, as zipline's ``zipline.finance.cancel_policy``: what happens to orders
still open when a session ends. Pass one to ``set_cancel_policy`` in ``initialize`` (the
strings ``"eod"`` and ``"never"`` work too)::

    from rustybt.api import EODCancel, set_cancel_policy

    def initialize(context):
        set_cancel_policy(EODCancel())

The engine applies the policy itself (these classes only name it), so a subclass with its
own ``should_cancel`` is refused by ``set_cancel_policy`` rather than silently ignored.
"""

from __future__ import annotations

#: The event ``should_cancel`` is asked about (zipline's ``SESSION_END``).
SESSION_END = "session_end"


class CancelPolicy:
    """Base class of the cancel policies; ``name`` is what the engine is told."""

    name: str | None = None
    warn_on_cancel: bool = False

    def should_cancel(self, event) -> bool:
        """Whether open orders are cancelled at ``event`` (zipline's interface)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class EODCancel(CancelPolicy):
    """Cancel every order still open at the end of a session. As in zipline, it applies
    to intraday (e.g. minute) bars only: on daily bars an order waits for the next
    session's bar to fill, so nothing is cancelled.

    ``warn_on_cancel`` is accepted for zipline compatibility; rustybt does not log the
    cancellations (an order's ``status`` becomes cancelled, see ``get_order``).
    """

    name = "eod"

    def __init__(self, warn_on_cancel: bool = True):
        self.warn_on_cancel = warn_on_cancel

    def should_cancel(self, event) -> bool:
        return event == SESSION_END


class NeverCancel(CancelPolicy):
    """Orders stay open until filled or cancelled by the strategy (the default)."""

    name = "never"

    def __init__(self):
        self.warn_on_cancel = False

    def should_cancel(self, event) -> bool:
        return False


__all__ = ["SESSION_END", "CancelPolicy", "EODCancel", "NeverCancel"]
