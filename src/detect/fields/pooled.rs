//! A thread's field storage, lent to one transaction at a time: taking it and giving
//! it back keeps the lists and value buffers of [`FieldValues`] from one transaction to
//! the next (see [`super::storage`]).

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

use super::FieldValues;

thread_local! {
    /// This thread's spare field storage (one: a thread judges one transaction at a time).
    static SPARE: RefCell<Option<Box<FieldValues>>> = const { RefCell::new(None) };
}

/// A thread's field storage, lent for one transaction; given back when dropped. (Boxed:
/// the storage is some 200 bytes, copied by every move of an unboxed one.)
#[derive(Debug)]
pub struct PooledValues(Option<Box<FieldValues>>);

impl PooledValues {
    /// The thread's spare storage (or new storage), emptied for `fixed + headers` slots.
    pub(crate) fn take(fixed: usize, headers: usize) -> PooledValues {
        let mut values = SPARE
            .try_with(|s| s.borrow_mut().take())
            .ok()
            .flatten()
            .unwrap_or_default();
        values.reset(fixed, headers);
        PooledValues(Some(values))
    }

    /// The values, owned (the storage is then not given back).
    pub fn into_inner(mut self) -> FieldValues {
        self.0.take().map(|b| *b).unwrap_or_default()
    }
}

impl Deref for PooledValues {
    type Target = FieldValues;

    fn deref(&self) -> &FieldValues {
        static EMPTY: FieldValues = FieldValues::EMPTY;
        self.0.as_deref().unwrap_or(&EMPTY)
    }
}

impl DerefMut for PooledValues {
    fn deref_mut(&mut self) -> &mut FieldValues {
        self.0.get_or_insert_with(Box::default)
    }
}

impl Drop for PooledValues {
    fn drop(&mut self) {
        if let Some(values) = self.0.take() {
            // During thread teardown the slot may be gone: the storage is then freed.
            let _ = SPARE.try_with(|s| {
                if let Ok(mut spare) = s.try_borrow_mut() {
                    *spare = Some(values);
                }
            });
        }
    }
}
