//! rustybt's data layer: the bundle format, validated ingest (csvdir, synthetic), the bar
//! grid of a calendar's sessions, and dense bar storage with history windows.

pub mod bundle;
pub mod cache;
pub mod calendar;
pub mod column;
pub mod csvdir;
pub mod error;
pub mod maintenance;
pub mod resample;
pub mod store;
pub mod synthetic;
pub mod view;

pub use bundle::{
    write_bundle, write_bundle_unless, Adjustment, AssetInfo, BarRows, BundleContent, Manifest,
    MAX_LOT_SCALE,
};
pub use calendar::{BarSize, Session};
pub use csvdir::{ParsedCsvDir, TableColumn};
pub use error::DataError;
pub use resample::{CacheStats, Resampled};
pub use store::{round_like_numpy, AdjustmentFactor, BarStore, Field};
pub use synthetic::{generate, generate_with_progress, SyntheticSpec};
pub use view::{masked_value, View};
