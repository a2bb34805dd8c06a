//! Rolling statistics between two inputs (correlations, regressions, beta).
