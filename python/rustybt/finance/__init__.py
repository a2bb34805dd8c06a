"""Cost models and order styles, with zipline's names (``rustybt.finance.slippage``,
``rustybt.finance.commission``, ``rustybt.finance.execution``)."""

from rustybt.finance import commission, execution, slippage

__all__ = ["commission", "execution", "slippage"]
