//! A column of plain numbers, owned or mapped from the bundle pool's cache file. Both
//! dereference to a slice, so readers never know which.

use std::ops::Deref;
use std::sync::Arc;

use bytemuck::Pod;
use memmap2::Mmap;

#[derive(Debug)]
enum Backing<T> {
    Owned(Vec<T>),
    /// `len` values at byte `offset` of a shared map (checked aligned when built).
    Mapped {
        map: Arc<Mmap>,
        offset: usize,
        len: usize,
    },
}

#[derive(Debug)]
pub struct Column<T>(Backing<T>);

impl<T: Pod> Column<T> {
    pub fn owned(values: Vec<T>) -> Self {
        Column(Backing::Owned(values))
    }

    /// A view of `len` values at `offset` in `map`; `None` if out of bounds or misaligned.
    pub fn mapped(map: &Arc<Mmap>, offset: usize, len: usize) -> Option<Self> {
        let bytes = len.checked_mul(std::mem::size_of::<T>())?;
        let slice = map.get(offset..offset.checked_add(bytes)?)?;
        bytemuck::try_cast_slice::<u8, T>(slice).ok()?;
        Some(Column(Backing::Mapped {
            map: Arc::clone(map),
            offset,
            len,
        }))
    }

    pub fn is_mapped(&self) -> bool {
        matches!(self.0, Backing::Mapped { .. })
    }
}

impl<T: Pod> Deref for Column<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        match &self.0 {
            Backing::Owned(v) => v,
            Backing::Mapped { map, offset, len } => {
                bytemuck::cast_slice(&map[*offset..*offset + *len * std::mem::size_of::<T>()])
            }
        }
    }
}
