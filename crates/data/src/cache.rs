//! The bundle pool's cache: a bundle's dense columns in one flat file, keyed by content
//! hash, memory-mapped by every process that opens the bundle after the first. The OS
//! shares the pages between workers; a changed bundle has a new hash and so a new file,
//! and a file whose header does not match the manifest is rebuilt, never read.
//!
//! Layout: a 4096-byte JSON header padded with spaces (magic, format version, content hash,
//! shape, and the byte offset of each section), then the sections, each 64-byte aligned:
//! timestamps (i64), bar session (u32), session first bar (u32), open/high/low/close/volume
//! mantissas (i64), then the same five as f64.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use serde::{Deserialize, Serialize};

use crate::bundle::Manifest;
use crate::column::Column;
use crate::error::DataError;

pub const CACHE_FORMAT: u32 = 1;
const HEADER: usize = 4096;
const ALIGN: usize = 64;
const MAGIC: &str = "rustybt-columns";

/// Owned columns, as built from Parquet.
pub struct OwnedColumns {
    pub timestamps: Vec<i64>,
    pub bar_session: Vec<u32>,
    pub session_first_bar: Vec<u32>,
    pub ints: [Vec<i64>; 5],
    pub floats: [Vec<f64>; 5],
}

/// Columns ready for a store, owned or mapped.
pub struct Columns {
    pub timestamps: Column<i64>,
    pub bar_session: Column<u32>,
    pub session_first_bar: Column<u32>,
    pub ints: [Column<i64>; 5],
    pub floats: [Column<f64>; 5],
}

impl From<OwnedColumns> for Columns {
    fn from(o: OwnedColumns) -> Self {
        Columns {
            timestamps: Column::owned(o.timestamps),
            bar_session: Column::owned(o.bar_session),
            session_first_bar: Column::owned(o.session_first_bar),
            ints: o.ints.map(Column::owned),
            floats: o.floats.map(Column::owned),
        }
    }
}

#[derive(Serialize, Deserialize, PartialEq)]
struct Header {
    magic: String,
    format: u32,
    content_hash: String,
    n_bars: usize,
    n_assets: usize,
    n_sessions: usize,
    /// Byte offset of each of the 13 sections.
    offsets: Vec<usize>,
}

/// The cache file of a bundle with this manifest.
pub fn cache_file(cache_dir: &Path, manifest: &Manifest) -> PathBuf {
    cache_dir.join(format!("{}.f{CACHE_FORMAT}.cols", manifest.content_hash))
}

fn lengths(n_bars: usize, n_assets: usize, n_sessions: usize) -> [(usize, usize); 13] {
    let cells = n_bars * n_assets;
    let mut out = [(0usize, 8usize); 13];
    out[0] = (n_bars, 8);
    out[1] = (n_bars, 4);
    out[2] = (n_sessions + 1, 4);
    for slot in out.iter_mut().skip(3) {
        *slot = (cells, 8);
    }
    out
}

fn layout(n_bars: usize, n_assets: usize, n_sessions: usize) -> (Vec<usize>, usize) {
    let mut offsets = Vec::with_capacity(13);
    let mut at = HEADER;
    for (len, size) in lengths(n_bars, n_assets, n_sessions) {
        offsets.push(at);
        at += (len * size).div_ceil(ALIGN) * ALIGN;
    }
    (offsets, at)
}

/// The header a cache file for `manifest` must carry, and the file's total length.
fn expected_header(manifest: &Manifest, n_assets: usize) -> (Header, usize) {
    let n_sessions = manifest.session_dates.len();
    let (offsets, total) = layout(manifest.n_bars, n_assets, n_sessions);
    let header = Header {
        magic: MAGIC.into(),
        format: CACHE_FORMAT,
        content_hash: manifest.content_hash.clone(),
        n_bars: manifest.n_bars,
        n_assets,
        n_sessions,
        offsets,
    };
    (header, total)
}

/// Map the cache file if it exists and matches `manifest`; `None` if it is absent or stale.
pub fn map(file: &Path, manifest: &Manifest, n_assets: usize) -> Option<Columns> {
    let f = File::open(file).ok()?;
    // SAFETY: cache files are written once under a temporary name and renamed into place,
    // never modified afterwards, so the mapped bytes do not change under us.
    let map = Arc::new(unsafe { Mmap::map(&f) }.ok()?);
    let end = map.get(..HEADER)?.iter().rposition(|&b| b != b' ')? + 1;
    let header: Header = serde_json::from_slice(&map[..end]).ok()?;
    let (expected, total) = expected_header(manifest, n_assets);
    let (offsets, n_sessions) = (expected.offsets.clone(), expected.n_sessions);
    if header != expected || map.len() < total {
        return None;
    }
    let lens = lengths(manifest.n_bars, n_assets, n_sessions);
    let ints = |i: usize| Column::<i64>::mapped(&map, offsets[i], lens[i].0);
    let floats = |i: usize| Column::<f64>::mapped(&map, offsets[i], lens[i].0);
    Some(Columns {
        timestamps: ints(0)?,
        bar_session: Column::mapped(&map, offsets[1], lens[1].0)?,
        session_first_bar: Column::mapped(&map, offsets[2], lens[2].0)?,
        ints: [ints(3)?, ints(4)?, ints(5)?, ints(6)?, ints(7)?],
        floats: [
            floats(8)?,
            floats(9)?,
            floats(10)?,
            floats(11)?,
            floats(12)?,
        ],
    })
}

/// Write the cache file for `manifest` atomically (temporary name, fsync, rename):
/// concurrent first opens each write their own file and the last rename wins; all are
/// identical.
pub fn write(
    file: &Path,
    manifest: &Manifest,
    n_assets: usize,
    cols: &OwnedColumns,
) -> Result<(), DataError> {
    let dir = file.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(DataError::io(dir))?;
    let (header, total) = expected_header(manifest, n_assets);
    let offsets = header.offsets.clone();
    let mut buf = vec![0u8; total];
    let head = serde_json::to_vec(&header).expect("header serializes");
    if head.len() > HEADER {
        return Err(DataError::BadRequest("cache header too large".into()));
    }
    buf[..HEADER].fill(b' ');
    buf[..head.len()].copy_from_slice(&head);
    let sections: [&[u8]; 13] = [
        bytemuck::cast_slice(&cols.timestamps),
        bytemuck::cast_slice(&cols.bar_session),
        bytemuck::cast_slice(&cols.session_first_bar),
        bytemuck::cast_slice(&cols.ints[0]),
        bytemuck::cast_slice(&cols.ints[1]),
        bytemuck::cast_slice(&cols.ints[2]),
        bytemuck::cast_slice(&cols.ints[3]),
        bytemuck::cast_slice(&cols.ints[4]),
        bytemuck::cast_slice(&cols.floats[0]),
        bytemuck::cast_slice(&cols.floats[1]),
        bytemuck::cast_slice(&cols.floats[2]),
        bytemuck::cast_slice(&cols.floats[3]),
        bytemuck::cast_slice(&cols.floats[4]),
    ];
    for (bytes, &at) in sections.iter().zip(&offsets) {
        buf[at..at + bytes.len()].copy_from_slice(bytes);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(
        ".{}.{}.{nanos}.tmp",
        manifest.content_hash,
        std::process::id()
    ));
    let result = (|| {
        let mut f = File::create(&tmp).map_err(DataError::io(&tmp))?;
        f.write_all(&buf).map_err(DataError::io(&tmp))?;
        f.sync_all().map_err(DataError::io(&tmp))?;
        fs::rename(&tmp, file).map_err(DataError::io(file))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
