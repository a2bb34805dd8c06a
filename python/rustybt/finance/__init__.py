"""Cost models, order styles and cancel policies, with zipline's names
(``rustybt.finance.slippage``, ``rustybt.finance.commission``, ``rustybt.finance.execution``,
``rustybt.finance.cancel_policy``)."""

from rustybt.finance import cancel_policy, commission, execution, slippage

__all__ = ["cancel_policy", "commission", "execution", "slippage"]
