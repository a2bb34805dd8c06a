//! The bundle pool's cache: a bundle's dense columns in one flat file, keyed by content
//! hash, memory-mapped by every process that opens the bundle after the first. The OS
//! shares the pages between workers; a changed bundle has a new hash and so a new file,
//! and a file whose header does not match the manifest is rebuilt, never read.
//!
//! Layout: a 4096-byte JSON header padded with spaces (magic, format version, content hash,
//! price scale, shape, the byte offset of each section and each section's xxh3-64
//! checksum), then the sections, each 64-byte aligned:
//! timestamps (i64), bar session (u32), session first bar (u32), open/high/low/close/volume
//! mantissas (i64), then the same five as f64, then each cell's last bar with a close
//! (u32, [`NO_CLOSE`] for none; see `BarStore::last_close_mantissa`).
//!
//! Integrity: every open in a fresh process checks each section against its checksum (in
//! parallel, at memory bandwidth) before any of it is used, and the header against the
//! manifest (content hash, price scale, shape). A file that fails either is not used: the
//! columns are rebuilt from the bundle's Parquet file and the cache rewritten, so a flipped
//! block can cost time, never a different backtest.
//!
//! Format history: 1 had no last-close index; 2 adds it; 3 adds the price scale and the
//! checksums. The format is in the file name and the header, so a file of another format
//! is never opened, let alone misread (an old file is left for `bundle clean`).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use twox_hash::XxHash3_64;

use crate::bundle::Manifest;
use crate::column::Column;
use crate::error::DataError;

pub const CACHE_FORMAT: u32 = 3;
const HEADER: usize = 4096;
const ALIGN: usize = 64;
const MAGIC: &str = "rustybt-columns";
/// The sections of a cache file.
const SECTIONS: usize = 14;
/// In the last-close index: the asset has no close at or before this bar.
pub const NO_CLOSE: u32 = u32::MAX;

/// Owned columns, as built from Parquet.
pub struct OwnedColumns {
    pub timestamps: Vec<i64>,
    pub bar_session: Vec<u32>,
    pub session_first_bar: Vec<u32>,
    pub ints: [Vec<i64>; 5],
    pub floats: [Vec<f64>; 5],
    /// Per cell, the last bar at or before it where the asset has a close ([`NO_CLOSE`]).
    pub last_close_bars: Vec<u32>,
}

/// Columns ready for a store, owned or mapped.
pub struct Columns {
    pub timestamps: Column<i64>,
    pub bar_session: Column<u32>,
    pub session_first_bar: Column<u32>,
    pub ints: [Column<i64>; 5],
    pub floats: [Column<f64>; 5],
    pub last_close_bars: Column<u32>,
}

impl From<OwnedColumns> for Columns {
    fn from(o: OwnedColumns) -> Self {
        Columns {
            timestamps: Column::owned(o.timestamps),
            bar_session: Column::owned(o.bar_session),
            session_first_bar: Column::owned(o.session_first_bar),
            ints: o.ints.map(Column::owned),
            floats: o.floats.map(Column::owned),
            last_close_bars: Column::owned(o.last_close_bars),
        }
    }
}

#[derive(Serialize, Deserialize, PartialEq)]
struct Header {
    magic: String,
    format: u32,
    content_hash: String,
    price_scale: u32,
    n_bars: usize,
    n_assets: usize,
    n_sessions: usize,
    /// Byte offset of each of the 14 sections.
    offsets: Vec<usize>,
    /// xxh3-64 of each section's bytes (empty in the header expected from a manifest).
    checksums: Vec<u64>,
}

/// The cache file of a bundle with this manifest.
pub fn cache_file(cache_dir: &Path, manifest: &Manifest) -> PathBuf {
    cache_dir.join(format!("{}.f{CACHE_FORMAT}.cols", manifest.content_hash))
}

/// (values, bytes per value) of each section.
fn lengths(n_bars: usize, n_assets: usize, n_sessions: usize) -> [(usize, usize); SECTIONS] {
    let cells = n_bars * n_assets;
    let mut out = [(cells, 8usize); SECTIONS];
    out[0] = (n_bars, 8);
    out[1] = (n_bars, 4);
    out[2] = (n_sessions + 1, 4);
    out[13] = (cells, 4);
    out
}

fn layout(n_bars: usize, n_assets: usize, n_sessions: usize) -> (Vec<usize>, usize) {
    let mut offsets = Vec::with_capacity(SECTIONS);
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
        price_scale: manifest.price_scale,
        n_bars: manifest.n_bars,
        n_assets,
        n_sessions,
        offsets,
        checksums: Vec::new(),
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
    let mut header: Header = serde_json::from_slice(&map[..end]).ok()?;
    let checksums = std::mem::take(&mut header.checksums);
    let (expected, total) = expected_header(manifest, n_assets);
    let (offsets, n_sessions) = (expected.offsets.clone(), expected.n_sessions);
    if header != expected || map.len() < total || checksums.len() != SECTIONS {
        return None;
    }
    let lens = lengths(manifest.n_bars, n_assets, n_sessions);
    let intact = (0..SECTIONS).into_par_iter().all(|i| {
        let bytes = &map[offsets[i]..offsets[i] + lens[i].0 * lens[i].1];
        XxHash3_64::oneshot(bytes) == checksums[i]
    });
    if !intact {
        return None;
    }
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
        last_close_bars: Column::mapped(&map, offsets[13], lens[13].0)?,
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
    let (mut header, total) = expected_header(manifest, n_assets);
    let offsets = header.offsets.clone();
    let mut buf = vec![0u8; total];
    let sections: [&[u8]; SECTIONS] = [
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
        bytemuck::cast_slice(&cols.last_close_bars),
    ];
    for (bytes, &at) in sections.iter().zip(&offsets) {
        buf[at..at + bytes.len()].copy_from_slice(bytes);
    }
    header.checksums = sections
        .par_iter()
        .map(|bytes| XxHash3_64::oneshot(bytes))
        .collect();
    let head = serde_json::to_vec(&header).expect("header serializes");
    if head.len() > HEADER {
        return Err(DataError::BadRequest("cache header too large".into()));
    }
    buf[..HEADER].fill(b' ');
    buf[..head.len()].copy_from_slice(&head);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            schema_version: crate::bundle::SCHEMA_VERSION,
            name: "t".into(),
            frequency: "1d".into(),
            calendar: "XNYS".into(),
            price_scale: 2,
            content_hash: "ab".repeat(32),
            created_at: String::new(),
            source: String::new(),
            n_assets: 2,
            n_bars: 3,
            n_rows: 4,
            start: String::new(),
            end: String::new(),
            session_dates: vec![1, 2, 3],
            session_opens: vec![0; 3],
            session_closes: vec![0; 3],
        }
    }

    fn columns() -> OwnedColumns {
        OwnedColumns {
            timestamps: vec![10, 20, 30],
            bar_session: vec![0, 1, 2],
            session_first_bar: vec![0, 1, 2, 3],
            ints: std::array::from_fn(|i| vec![i as i64 + 1, 0, 7, 8, 0, 9]),
            floats: std::array::from_fn(|i| vec![i as f64; 6]),
            last_close_bars: vec![0, NO_CLOSE, 1, 1, 1, 2],
        }
    }

    #[test]
    fn round_trip_includes_the_last_close_index() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest();
        let file = cache_file(dir.path(), &m);
        assert!(file.to_string_lossy().ends_with(".f3.cols"));
        let cols = columns();
        write(&file, &m, 2, &cols).unwrap();
        let mapped = map(&file, &m, 2).unwrap();
        assert!(mapped.last_close_bars.is_mapped());
        assert_eq!(*mapped.last_close_bars, cols.last_close_bars[..]);
        assert_eq!(*mapped.ints[3], cols.ints[3][..]);
        assert_eq!(*mapped.floats[4], cols.floats[4][..]);
        assert_eq!(*mapped.session_first_bar, cols.session_first_bar[..]);
    }

    #[test]
    fn a_flipped_byte_in_any_section_or_another_price_scale_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest();
        let file = cache_file(dir.path(), &m);
        write(&file, &m, 2, &columns()).unwrap();
        let good = fs::read(&file).unwrap();
        let (header, _) = expected_header(&m, 2);
        let lens = lengths(m.n_bars, 2, m.session_dates.len());
        for (i, &at) in header.offsets.iter().enumerate() {
            for byte in [at, at + lens[i].0 * lens[i].1 - 1] {
                let mut bad = good.clone();
                bad[byte] ^= 0x10;
                fs::write(&file, &bad).unwrap();
                assert!(map(&file, &m, 2).is_none(), "section {i}, byte {byte}");
            }
        }
        fs::write(&file, &good).unwrap();
        assert!(map(&file, &m, 2).is_some());
        let rescaled = Manifest {
            price_scale: 4,
            ..manifest()
        };
        assert!(map(&file, &rescaled, 2).is_none());
    }

    #[test]
    fn a_file_of_another_format_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest();
        let file = cache_file(dir.path(), &m);
        write(&file, &m, 2, &columns()).unwrap();
        // a format-1 file (13 sections, no index) under this name: the header says so
        let mut bytes = fs::read(&file).unwrap();
        let head = String::from_utf8(bytes[..HEADER].to_vec()).unwrap();
        let old = head.replacen(&format!("\"format\":{CACHE_FORMAT}"), "\"format\":1", 1);
        assert_ne!(old, head);
        bytes[..HEADER].copy_from_slice(old.as_bytes());
        fs::write(&file, &bytes).unwrap();
        assert!(map(&file, &m, 2).is_none());
        // and a truncated file is not read either
        write(&file, &m, 2, &columns()).unwrap();
        let bytes = fs::read(&file).unwrap();
        fs::write(&file, &bytes[..bytes.len() - 64]).unwrap();
        assert!(map(&file, &m, 2).is_none());
    }
}
