//! Bundle maintenance that cannot lose a version in use.
//!
//! Two kinds of file locks (`flock`, released by the OS when their holder exits, however
//! it exits) coordinate ingest, clean and readers:
//!
//! * `NAME/.lock`, the maintenance lock: held exclusively while an ingest publishes a
//!   version (rename into place, swap `CURRENT`, prune) and for the whole of a clean;
//!   held shared while an opener reads `CURRENT` and takes its lease. So a clean never
//!   acts on a stale `CURRENT`, and an opener never leases a version being removed.
//! * `NAME/.leases/VERSION`, a version's lease: every open store holds it shared for its
//!   lifetime (and forked workers inherit it). Removal (clean, or the prune after an
//!   ingest) first takes it exclusively without waiting; a version it cannot take is in
//!   use and stays.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::bundle::{self, CURRENT_FILE, MANIFEST_FILE};
use crate::error::DataError;

pub const LOCK_FILE: &str = ".lock";
pub const LEASES_DIR: &str = ".leases";

/// A held lock file (released when dropped).
#[derive(Debug)]
pub struct Held(#[allow(dead_code)] File);

/// A reader's lease on one version of a bundle: while it lives, neither clean nor an
/// ingest's prune removes that version.
#[derive(Debug)]
pub struct Lease {
    pub version: String,
    _file: File,
}

fn open_lock_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

/// The maintenance lock of `bundle_dir`, exclusive or shared (waits for it). `None` where
/// the directory is read-only: nothing can publish or clean there either.
pub fn maintenance_lock(bundle_dir: &Path, exclusive: bool) -> Result<Option<Held>, DataError> {
    let path = bundle_dir.join(LOCK_FILE);
    let file = match open_lock_file(&path) {
        Ok(f) => f,
        Err(e) if read_only(&e) => return Ok(None),
        Err(e) => return Err(DataError::io(&path)(e)),
    };
    if exclusive {
        file.lock()
    } else {
        file.lock_shared()
    }
    .map_err(DataError::io(&path))?;
    Ok(Some(Held(file)))
}

fn read_only(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem
    )
}

fn lease_path(bundle_dir: &Path, version: &str) -> PathBuf {
    bundle_dir.join(LEASES_DIR).join(version)
}

/// Take a (shared) lease on `version` of the bundle in `bundle_dir`. `None` where the
/// bundle directory is read-only.
pub fn lease(bundle_dir: &Path, version: &str) -> Result<Option<Lease>, DataError> {
    let dir = bundle_dir.join(LEASES_DIR);
    match fs::create_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if read_only(&e) => return Ok(None),
        Err(e) => return Err(DataError::io(&dir)(e)),
    }
    let path = lease_path(bundle_dir, version);
    let file = match open_lock_file(&path) {
        Ok(f) => f,
        Err(e) if read_only(&e) => return Ok(None),
        Err(e) => return Err(DataError::io(&path)(e)),
    };
    file.lock_shared().map_err(DataError::io(&path))?;
    Ok(Some(Lease {
        version: version.to_string(),
        _file: file,
    }))
}

/// Resolve `path` (a bundle directory with `CURRENT`, or a version directory) to its
/// version directory and lease that version, under the shared maintenance lock so that
/// `CURRENT` cannot move to, and clean cannot remove, what is being leased.
pub fn open_leased(path: &Path) -> Result<(PathBuf, Option<Lease>), DataError> {
    if path.join(MANIFEST_FILE).is_file() {
        // a version directory named directly: lease it in its bundle, if it has one
        let (Some(parent), Some(version)) = (path.parent(), path.file_name()) else {
            return Ok((path.to_path_buf(), None));
        };
        if !parent.join(CURRENT_FILE).is_file() {
            return Ok((path.to_path_buf(), None));
        }
        let _lock = maintenance_lock(parent, false)?;
        let lease = lease(parent, &version.to_string_lossy())?;
        return Ok((path.to_path_buf(), lease));
    }
    let lock = if path.join(CURRENT_FILE).is_file() {
        maintenance_lock(path, false)?
    } else {
        None
    };
    let dir = bundle::resolve_version_dir(path)?;
    let lease = match (&lock, dir.file_name()) {
        (Some(_), Some(version)) => lease(path, &version.to_string_lossy())?,
        _ => None,
    };
    Ok((dir, lease))
}

/// Whether a reader holds `version`'s lease. Asked under the exclusive maintenance lock,
/// so no new lease can be taken until the caller is done.
fn leased(bundle_dir: &Path, version: &str) -> Result<bool, DataError> {
    let path = lease_path(bundle_dir, version);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false), // never leased
        Err(e) => return Err(DataError::io(&path)(e)),
    };
    match file.try_lock() {
        Ok(()) => Ok(false),
        Err(TryLockError::WouldBlock) => Ok(true),
        Err(TryLockError::Error(e)) => Err(DataError::io(&path)(e)),
    }
}

/// Remove `version` of the bundle in `bundle_dir` unless a reader leases it (the caller
/// holds the exclusive maintenance lock). Returns whether it was removed.
pub(crate) fn remove_version(bundle_dir: &Path, version: &str) -> Result<bool, DataError> {
    if leased(bundle_dir, version)? {
        return Ok(false);
    }
    let dir = bundle_dir.join(version);
    fs::remove_dir_all(&dir).map_err(DataError::io(&dir))?;
    let lease = lease_path(bundle_dir, version);
    match fs::remove_file(&lease) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(DataError::io(&lease)(e)),
    }
    Ok(true)
}

/// What a clean removed, and what it left because a reader holds it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Cleaned {
    pub versions: Vec<String>,
    pub leftovers: Vec<String>,
    /// Versions in use by a running backtest, search or notebook (leased): kept.
    pub leased: Vec<String>,
}

/// Remove every version of the bundle in `bundle_dir` but the live one (all of them with
/// `remove_all`), skipping leased versions, and the leftovers of crashed writes. Holds the
/// maintenance lock throughout, so an ingest publishing meanwhile waits and its version is
/// never removed. With `remove_all`, a leased version refuses the whole removal.
pub fn clean(bundle_dir: &Path, remove_all: bool) -> Result<Cleaned, DataError> {
    let pointer = bundle_dir.join(CURRENT_FILE);
    if !pointer.is_file() {
        return Err(DataError::BundleNotFound(bundle_dir.to_path_buf()));
    }
    let _lock = maintenance_lock(bundle_dir, true)?;
    // read under the lock: no ingest can swap it now
    let live = fs::read_to_string(&pointer).map_err(DataError::io(&pointer))?;
    let live = live.trim();
    let mut out = Cleaned::default();
    let mut entries: Vec<String> = fs::read_dir(bundle_dir)
        .map_err(DataError::io(bundle_dir))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
        .collect();
    entries.sort();
    let versions: Vec<&String> = entries
        .iter()
        .filter(|n| n.starts_with('v') && bundle_dir.join(n).is_dir())
        .collect();
    if remove_all {
        let mut in_use = Vec::new();
        for v in &versions {
            if leased(bundle_dir, v)? {
                in_use.push((*v).clone());
            }
        }
        if !in_use.is_empty() {
            return Err(DataError::InUse(format!(
                "bundle {} is in use (version {} is open in a running backtest, search or \
                 notebook); stop it, or clean without removing the bundle",
                bundle_dir.display(),
                in_use.join(", ")
            )));
        }
    }
    for v in versions {
        if v == live && !remove_all {
            continue;
        }
        if remove_version(bundle_dir, v)? {
            out.versions.push(v.clone());
        } else {
            out.leased.push(v.clone());
        }
    }
    for name in &entries {
        if bundle::is_leftover(name) && bundle::writer_gone(name) {
            let p = bundle_dir.join(name);
            let _ = fs::remove_dir_all(&p).or_else(|_| fs::remove_file(&p));
            out.leftovers.push(name.clone());
        }
    }
    if remove_all {
        for extra in [CURRENT_FILE, LEASES_DIR] {
            let p = bundle_dir.join(extra);
            let _ = fs::remove_dir_all(&p).or_else(|_| fs::remove_file(&p));
        }
        let _ = fs::remove_file(bundle_dir.join(LOCK_FILE));
        fs::remove_dir(bundle_dir).map_err(DataError::io(bundle_dir))?;
    }
    Ok(out)
}

/// Remove the temporary files of pool-cache writes whose writer has exited
/// (`.HASH.PID.NANOS.tmp`, left by a kill during the write). Returns their names.
pub fn clean_cache_leftovers(cache_dir: &Path) -> Result<Vec<String>, DataError> {
    let Ok(entries) = fs::read_dir(cache_dir) else {
        return Ok(Vec::new());
    };
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let parts: Vec<&str> = name.split('.').collect();
        let pid = match parts.as_slice() {
            ["", _hash, pid, _nanos, "tmp"] => pid.parse::<u32>().ok(),
            _ => continue,
        };
        if pid.is_some_and(|p| p != std::process::id() && !pid_alive(p)) {
            fs::remove_file(e.path()).map_err(DataError::io(e.path()))?;
            removed.push(name);
        }
    }
    removed.sort();
    Ok(removed)
}

pub(crate) fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_with(versions: &[&str], live: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for v in versions {
            fs::create_dir(dir.path().join(v)).unwrap();
            fs::write(dir.path().join(v).join(MANIFEST_FILE), "{}").unwrap();
        }
        fs::write(dir.path().join(CURRENT_FILE), live).unwrap();
        dir
    }

    #[test]
    fn clean_keeps_the_live_and_the_leased_versions() {
        let b = bundle_with(&["v1", "v2", "v3"], "v3");
        let held = lease(b.path(), "v1").unwrap().unwrap();
        let out = clean(b.path(), false).unwrap();
        assert_eq!(out.versions, ["v2"]);
        assert_eq!(out.leased, ["v1"]);
        assert!(b.path().join("v1").is_dir() && b.path().join("v3").is_dir());
        drop(held);
        let out = clean(b.path(), false).unwrap();
        assert_eq!(out.versions, ["v1"]);
        assert!(!b.path().join(LEASES_DIR).join("v1").exists());
    }

    #[test]
    fn remove_all_is_refused_while_a_version_is_leased() {
        let b = bundle_with(&["v1"], "v1");
        let (dir, held) = open_leased(b.path()).unwrap();
        assert_eq!(dir, b.path().join("v1"));
        let err = clean(b.path(), true).unwrap_err().to_string();
        assert!(err.contains("in use") && err.contains("v1"), "{err}");
        assert!(b.path().join("v1").is_dir());
        drop(held);
        clean(b.path(), true).unwrap();
        assert!(!b.path().exists());
    }

    #[test]
    fn cache_leftovers_of_exited_writers_go() {
        let d = tempfile::tempdir().unwrap();
        let own = format!(".abc.{}.5.tmp", std::process::id());
        for n in [".abc.999999999.5.tmp", own.as_str(), "abc.f2.cols"] {
            fs::write(d.path().join(n), "x").unwrap();
        }
        let removed = clean_cache_leftovers(d.path()).unwrap();
        assert_eq!(removed, [".abc.999999999.5.tmp"]);
        assert!(d.path().join(&own).exists() && d.path().join("abc.f2.cols").exists());
    }
}
