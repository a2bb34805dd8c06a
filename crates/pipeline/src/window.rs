//! Rolling factors: one value per asset per window.
