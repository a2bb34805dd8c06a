//! The bundle on disk: a directory holding versions and a `CURRENT` pointer.
//!
//! ```text
//! NAME/
//!   CURRENT                 name of the live version (swapped by rename)
//!   v20261122T205913Z-031526826-94410f7d/   v<created UTC>-<ns>-<hash prefix>
//!     manifest.json         schema version, frequency, calendar, sessions, content hash, ...
//!     assets.json           sid, symbol, exchange, first and last session with data
//!     adjustments.json      splits and cash dividends
//!     bars.parquet          sid, ts (bar close, ns UTC), open/high/low/close DECIMAL(18, scale), volume
//! ```
//! A version directory is written under a temporary name, fsynced and renamed into place,
//! then `CURRENT` is replaced by renaming a fsynced temporary file over it: a reader sees
//! the old bundle or the new one, never half of one.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::column::reader::ColumnReader;
use parquet::data_type::{Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::calendar::{format_date, format_timestamp, BarSize, Session};
use crate::error::DataError;

pub const SCHEMA_VERSION: u32 = 1;
pub const CURRENT_FILE: &str = "CURRENT";
pub const MANIFEST_FILE: &str = "manifest.json";
const ROW_GROUP_ROWS: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetInfo {
    pub sid: u32,
    pub symbol: String,
    pub exchange: String,
    /// First and last session (day numbers) with a bar.
    pub start_date: i32,
    pub end_date: i32,
    /// Quantities trade in lots of `10^-lot_scale` (0: whole shares, zipline's rule; 4: a
    /// coin in ten-thousandths). Absent from manifests of whole-share bundles.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lot_scale: u32,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(v: &u32) -> bool {
    *v == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Adjustment {
    /// Shares multiply by `ratio` (a decimal string, e.g. "2" for a 2-for-1) on `date`.
    Split { sid: u32, date: i32, ratio: String },
    /// A cash dividend of `amount` per share with ex-date `date`, accrued on the ex-date
    /// and paid on the first session on or after `pay_date` (on the ex-date itself when the
    /// source gave no pay date).
    Dividend {
        sid: u32,
        date: i32,
        amount: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pay_date: Option<i32>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema_version: u32,
    pub name: String,
    /// Canonical bar size (`1d`, `1m`, `1h`, ...).
    pub frequency: String,
    pub calendar: String,
    /// Decimal places of every stored price.
    pub price_scale: u32,
    /// sha256 of the bundle's logical content (not of its files: writer versions and
    /// creation times do not change it).
    pub content_hash: String,
    pub created_at: String,
    pub source: String,
    pub n_assets: usize,
    pub n_bars: usize,
    pub n_rows: usize,
    pub start: String,
    pub end: String,
    pub session_dates: Vec<i32>,
    pub session_opens: Vec<i64>,
    pub session_closes: Vec<i64>,
}

impl Manifest {
    pub fn sessions(&self) -> Vec<Session> {
        (0..self.session_dates.len())
            .map(|i| Session {
                date: self.session_dates[i],
                open_ns: self.session_opens[i],
                close_ns: self.session_closes[i],
            })
            .collect()
    }
    pub fn bar_size(&self) -> Result<BarSize, DataError> {
        BarSize::parse(&self.frequency)
    }
}

/// Bars in long form, sorted by (sid, bar); `bar` indexes the bundle's bar grid.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BarRows {
    pub sid: Vec<u32>,
    pub bar: Vec<u32>,
    pub open: Vec<i64>,
    pub high: Vec<i64>,
    pub low: Vec<i64>,
    pub close: Vec<i64>,
    pub volume: Vec<i64>,
}

impl BarRows {
    pub fn len(&self) -> usize {
        self.sid.len()
    }
    pub fn is_empty(&self) -> bool {
        self.sid.is_empty()
    }
    pub fn push(&mut self, sid: u32, bar: u32, ohlcv: [i64; 5]) {
        self.sid.push(sid);
        self.bar.push(bar);
        self.open.push(ohlcv[0]);
        self.high.push(ohlcv[1]);
        self.low.push(ohlcv[2]);
        self.close.push(ohlcv[3]);
        self.volume.push(ohlcv[4]);
    }
}

/// Everything a bundle holds, in memory, before it is written.
#[derive(Debug, Clone)]
pub struct BundleContent {
    pub frequency: BarSize,
    pub calendar: String,
    pub price_scale: u32,
    pub source: String,
    pub sessions: Vec<Session>,
    pub timestamps: Vec<i64>,
    pub assets: Vec<AssetInfo>,
    pub rows: BarRows,
    pub adjustments: Vec<Adjustment>,
}

/// Finest lot a bundle may give an asset (`10^-8`), and the most places a price and a
/// lot may carry together: a price times a quantity must keep at most the ledger's 12.
pub const MAX_LOT_SCALE: u32 = 8;
const MAX_PRICE_TIMES_LOT_SCALE: u32 = 12;

impl BundleContent {
    /// Give each asset its lot scale (`scales[sid]`: quantities in lots of `10^-scale`).
    /// Refused, naming the asset, above [`MAX_LOT_SCALE`] or where the price scale and the
    /// lot scale together exceed 12 places.
    pub fn set_lot_scales(&mut self, scales: &[u32]) -> Result<(), DataError> {
        if scales.len() != self.assets.len() {
            return Err(DataError::BadRequest(format!(
                "{} lot sizes for {} assets",
                scales.len(),
                self.assets.len()
            )));
        }
        for (asset, &scale) in self.assets.iter_mut().zip(scales) {
            if scale > MAX_LOT_SCALE {
                return Err(DataError::BadRequest(format!(
                    "{}: a lot size of 1e-{scale} is finer than the finest supported (1e-{MAX_LOT_SCALE})",
                    asset.symbol
                )));
            }
            if self.price_scale + scale > MAX_PRICE_TIMES_LOT_SCALE {
                return Err(DataError::BadRequest(format!(
                    "{}: a lot size of 1e-{scale} with prices at {} places makes values of {} \
                     places, more than the ledger's {MAX_PRICE_TIMES_LOT_SCALE}: use a price \
                     scale of at most {} (with round_prices) or a coarser lot",
                    asset.symbol,
                    self.price_scale,
                    self.price_scale + scale,
                    MAX_PRICE_TIMES_LOT_SCALE - scale
                )));
            }
            asset.lot_scale = scale;
        }
        Ok(())
    }

    /// sha256 over the canonical logical content.
    pub fn content_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(SCHEMA_VERSION.to_le_bytes());
        for part in [self.frequency.label().as_str(), self.calendar.as_str()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.update(self.price_scale.to_le_bytes());
        for s in &self.sessions {
            h.update(s.date.to_le_bytes());
            h.update(s.open_ns.to_le_bytes());
            h.update(s.close_ns.to_le_bytes());
        }
        for a in &self.assets {
            h.update(a.sid.to_le_bytes());
            h.update((a.symbol.len() as u64).to_le_bytes());
            h.update(a.symbol.as_bytes());
            h.update((a.exchange.len() as u64).to_le_bytes());
            h.update(a.exchange.as_bytes());
            if a.lot_scale != 0 {
                // whole-share bundles keep the hash they had before lots existed
                h.update(b"lot");
                h.update(a.lot_scale.to_le_bytes());
            }
        }
        let r = &self.rows;
        for i in 0..r.len() {
            h.update(r.sid[i].to_le_bytes());
            h.update(self.timestamps[r.bar[i] as usize].to_le_bytes());
            for v in [r.open[i], r.high[i], r.low[i], r.close[i], r.volume[i]] {
                h.update(v.to_le_bytes());
            }
        }
        let adj = serde_json::to_vec(&self.adjustments).unwrap_or_default();
        h.update(adj);
        h.finalize()
            .iter()
            .fold(String::with_capacity(64), |mut acc, b| {
                use std::fmt::Write as _;
                let _ = write!(acc, "{b:02x}");
                acc
            })
    }
}

/// Abort the process here when `RUSTYBT_FAILPOINT` names this point: lets tests prove that
/// a crash between two writes leaves no half-written bundle behind.
pub fn failpoint(name: &str) {
    if std::env::var("RUSTYBT_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("rustybt: failpoint '{name}' hit, aborting");
        std::process::abort();
    }
}

fn now_utc() -> (i64, String) {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    (ns, format_timestamp(ns))
}

fn sync_dir(path: &Path) -> Result<(), DataError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(DataError::io(path))
}

fn write_file_synced(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let mut f = File::create(path).map_err(DataError::io(path))?;
    f.write_all(bytes).map_err(DataError::io(path))?;
    f.sync_all().map_err(DataError::io(path))
}

/// Write `content` as bundle `name` under `bundles_dir`, atomically. Returns the path of
/// the new version directory.
pub fn write_bundle(
    bundles_dir: &Path,
    name: &str,
    content: &BundleContent,
) -> Result<PathBuf, DataError> {
    write_bundle_unless(bundles_dir, name, content, &|| false)
}

/// [`write_bundle`], asking `stop` once the version is written and before it is published:
/// `true` removes the written version and returns [`DataError::Interrupted`], so an
/// interrupted ingest leaves the bundle exactly as it was.
pub fn write_bundle_unless(
    bundles_dir: &Path,
    name: &str,
    content: &BundleContent,
    stop: &dyn Fn() -> bool,
) -> Result<PathBuf, DataError> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(DataError::BadRequest(format!(
            "bundle name '{name}' must be a plain, non-hidden file name"
        )));
    }
    if content.rows.is_empty() {
        return Err(DataError::BadRequest(format!(
            "bundle '{name}' would hold no bars"
        )));
    }
    let bundle_dir = bundles_dir.join(name);
    fs::create_dir_all(&bundle_dir).map_err(DataError::io(&bundle_dir))?;
    let hash = content.content_hash();
    let (now_ns, created_at) = now_utc();
    let stamp: String = created_at
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let version = format!(
        "v{stamp}-{:09}-{}",
        now_ns.rem_euclid(1_000_000_000),
        &hash[..8]
    );
    let tmp = bundle_dir.join(format!(".tmp-{version}-{}", std::process::id()));
    fs::create_dir_all(&tmp).map_err(DataError::io(&tmp))?;
    let result = (|| {
        write_bars(&tmp.join("bars.parquet"), content)?;
        failpoint("ingest-after-bars");
        let assets = serde_json::to_vec_pretty(&content.assets).expect("assets serialize");
        write_file_synced(&tmp.join("assets.json"), &assets)?;
        let adjustments =
            serde_json::to_vec_pretty(&content.adjustments).expect("adjustments serialize");
        write_file_synced(&tmp.join("adjustments.json"), &adjustments)?;
        let first = content.sessions.first().map_or(0, |s| s.date);
        let last = content.sessions.last().map_or(0, |s| s.date);
        let manifest = Manifest {
            schema_version: SCHEMA_VERSION,
            name: name.to_string(),
            frequency: content.frequency.label(),
            calendar: content.calendar.clone(),
            price_scale: content.price_scale,
            content_hash: hash.clone(),
            created_at: created_at.clone(),
            source: content.source.clone(),
            n_assets: content.assets.len(),
            n_bars: content.timestamps.len(),
            n_rows: content.rows.len(),
            start: format_date(first),
            end: format_date(last),
            session_dates: content.sessions.iter().map(|s| s.date).collect(),
            session_opens: content.sessions.iter().map(|s| s.open_ns).collect(),
            session_closes: content.sessions.iter().map(|s| s.close_ns).collect(),
        };
        let bytes = serde_json::to_vec(&manifest).expect("manifest serialize");
        write_file_synced(&tmp.join(MANIFEST_FILE), &bytes)?;
        sync_dir(&tmp)?;
        if stop() {
            return Err(DataError::Interrupted);
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    // publish under the maintenance lock: a clean running now finishes first, and one
    // starting now waits, then sees the new CURRENT
    let _lock = crate::maintenance::maintenance_lock(&bundle_dir, true)?;
    let final_dir = bundle_dir.join(&version);
    fs::rename(&tmp, &final_dir).map_err(DataError::io(&final_dir))?;
    sync_dir(&bundle_dir)?;
    failpoint("ingest-before-pointer");
    let pointer_tmp = bundle_dir.join(format!(".{CURRENT_FILE}.tmp-{}", std::process::id()));
    write_file_synced(&pointer_tmp, version.as_bytes())?;
    let pointer = bundle_dir.join(CURRENT_FILE);
    fs::rename(&pointer_tmp, &pointer).map_err(DataError::io(&pointer))?;
    sync_dir(&bundle_dir)?;
    prune_versions(&bundle_dir, &version);
    Ok(final_dir)
}

/// Keep the live version and the one before it; remove older versions no reader leases
/// (the caller holds the maintenance lock) and leftovers of crashed writes.
fn prune_versions(bundle_dir: &Path, live: &str) {
    let Ok(entries) = fs::read_dir(bundle_dir) else {
        return;
    };
    let mut versions: Vec<String> = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if is_leftover(&name) && writer_gone(&name) {
            let _ = fs::remove_dir_all(e.path()).or_else(|_| fs::remove_file(e.path()));
        } else if name.starts_with('v') && name != live {
            versions.push(name);
        }
    }
    versions.sort();
    versions.pop(); // the newest non-live version stays
    for v in versions {
        let _ = crate::maintenance::remove_version(bundle_dir, &v);
    }
}

/// Whether `name` (in a bundle directory) is a temporary of a write: a version or a
/// `CURRENT` pointer being written.
pub(crate) fn is_leftover(name: &str) -> bool {
    name.starts_with(".tmp-") || name.starts_with(&format!(".{CURRENT_FILE}.tmp"))
}

/// Whether the process that wrote a leftover (its pid ends the name) has exited, so the
/// leftover is a crash's and not a concurrent ingest's.
pub(crate) fn writer_gone(name: &str) -> bool {
    let pid = name
        .rsplit(['-', '.'])
        .next()
        .and_then(|p| p.parse::<u32>().ok());
    match pid {
        Some(pid) if pid == std::process::id() => false,
        Some(pid) => !crate::maintenance::pid_alive(pid),
        None => true,
    }
}

/// The version directory a bundle path points at: `path` itself when it holds a manifest,
/// or the directory its `CURRENT` file names.
pub fn resolve_version_dir(path: &Path) -> Result<PathBuf, DataError> {
    if path.join(MANIFEST_FILE).is_file() {
        return Ok(path.to_path_buf());
    }
    let pointer = path.join(CURRENT_FILE);
    if pointer.is_file() {
        let name = fs::read_to_string(&pointer).map_err(DataError::io(&pointer))?;
        let dir = path.join(name.trim());
        if dir.join(MANIFEST_FILE).is_file() {
            return Ok(dir);
        }
        return Err(DataError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("CURRENT names '{}', which has no manifest", name.trim()),
        });
    }
    Err(DataError::BundleNotFound(path.to_path_buf()))
}

fn parquet_err(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> DataError + '_ {
    move |e| DataError::Parquet {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

fn write_bars(path: &Path, content: &BundleContent) -> Result<(), DataError> {
    let scale = content.price_scale;
    let message = format!(
        "message bars {{
            REQUIRED INT32 sid (INTEGER(32, false));
            REQUIRED INT64 ts (TIMESTAMP(NANOS, true));
            REQUIRED INT64 open (DECIMAL(18, {scale}));
            REQUIRED INT64 high (DECIMAL(18, {scale}));
            REQUIRED INT64 low (DECIMAL(18, {scale}));
            REQUIRED INT64 close (DECIMAL(18, {scale}));
            REQUIRED INT64 volume;
        }}"
    );
    let err = parquet_err(path);
    let schema = Arc::new(parse_message_type(&message).map_err(&err)?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let file = File::create(path).map_err(DataError::io(path))?;
    let mut writer = SerializedFileWriter::new(file, schema, props).map_err(&err)?;
    let rows = &content.rows;
    let mut start = 0;
    while start < rows.len() {
        let end = (start + ROW_GROUP_ROWS).min(rows.len());
        let sids: Vec<i32> = rows.sid[start..end].iter().map(|&s| s as i32).collect();
        let ts: Vec<i64> = rows.bar[start..end]
            .iter()
            .map(|&b| content.timestamps[b as usize])
            .collect();
        let mut rg = writer.next_row_group().map_err(&err)?;
        let mut col_ix = 0;
        while let Some(mut col) = rg.next_column().map_err(&err)? {
            if col_ix == 0 {
                col.typed::<Int32Type>()
                    .write_batch(&sids, None, None)
                    .map_err(&err)?;
            } else {
                let values: &[i64] = match col_ix {
                    1 => &ts,
                    2 => &rows.open[start..end],
                    3 => &rows.high[start..end],
                    4 => &rows.low[start..end],
                    5 => &rows.close[start..end],
                    _ => &rows.volume[start..end],
                };
                col.typed::<Int64Type>()
                    .write_batch(values, None, None)
                    .map_err(&err)?;
            }
            col.close().map_err(&err)?;
            col_ix += 1;
        }
        rg.close().map_err(&err)?;
        start = end;
    }
    let file = writer.into_inner().map_err(&err)?;
    file.sync_all().map_err(DataError::io(path))
}

/// Raw columns of `bars.parquet`: (sid, ts, open, high, low, close, volume).
pub(crate) type RawBars = (Vec<i32>, [Vec<i64>; 6]);

/// The decimal scale `bars.parquet` stores its prices at (from its schema alone).
pub(crate) fn stored_price_scale(path: &Path) -> Result<i32, DataError> {
    let file = File::open(path).map_err(DataError::io(path))?;
    let reader = SerializedFileReader::new(file).map_err(parquet_err(path))?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    if schema.num_columns() != 7 {
        return Err(DataError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("{} columns, not 7", schema.num_columns()),
        });
    }
    Ok(schema.column(2).type_scale())
}

pub(crate) fn read_bars(path: &Path) -> Result<RawBars, DataError> {
    let err = parquet_err(path);
    let file = File::open(path).map_err(DataError::io(path))?;
    let reader = SerializedFileReader::new(file).map_err(&err)?;
    let total = reader.metadata().file_metadata().num_rows() as usize;
    let mut sids: Vec<i32> = Vec::with_capacity(total);
    let mut cols: [Vec<i64>; 6] = std::array::from_fn(|_| Vec::with_capacity(total));
    for g in 0..reader.num_row_groups() {
        let rg = reader.get_row_group(g).map_err(&err)?;
        let n = rg.metadata().num_rows() as usize;
        for c in 0..7 {
            let column = rg.get_column_reader(c).map_err(&err)?;
            match (c, column) {
                (0, ColumnReader::Int32ColumnReader(mut r)) => {
                    let mut read = 0;
                    while read < n {
                        let (recs, _, _) = r
                            .read_records(n - read, None, None, &mut sids)
                            .map_err(&err)?;
                        if recs == 0 {
                            break;
                        }
                        read += recs;
                    }
                }
                (c, ColumnReader::Int64ColumnReader(mut r)) if c > 0 => {
                    let out = &mut cols[c - 1];
                    let mut read = 0;
                    while read < n {
                        let (recs, _, _) =
                            r.read_records(n - read, None, None, out).map_err(&err)?;
                        if recs == 0 {
                            break;
                        }
                        read += recs;
                    }
                }
                _ => {
                    return Err(DataError::Corrupt {
                        path: path.to_path_buf(),
                        reason: format!("column {c} has an unexpected physical type"),
                    });
                }
            }
        }
    }
    if sids.len() != total || cols.iter().any(|c| c.len() != total) {
        return Err(DataError::Corrupt {
            path: path.to_path_buf(),
            reason: "short column".to_string(),
        });
    }
    Ok((sids, cols))
}

pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, DataError> {
    let bytes = fs::read(path).map_err(DataError::io(path))?;
    serde_json::from_slice(&bytes).map_err(|e| DataError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}
