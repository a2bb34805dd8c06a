//! Cross-sectional operations: each row's values across assets.
