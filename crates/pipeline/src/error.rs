use thiserror::Error;

/// Everything a pipeline computation can refuse.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum PipelineError {
    /// Matrices whose sizes do not fit together.
    #[error("{0}")]
    Shape(String),
    /// A window longer than the rows given, or of length 0.
    #[error("{0}")]
    Window(String),
    /// An unknown computation or a parameter out of its range.
    #[error("{0}")]
    Parameter(String),
}
