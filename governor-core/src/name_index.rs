//! The governor's services by name: a hash table of the records
//! themselves, hashed by the name each record holds.
//!
//! A hash table rather than an ordered map: adding a service is one hash
//! and (almost always) one comparison, where a `BTreeMap` compared the new
//! name with about twenty others at a million services. Storing the
//! record alone (one word) rather than a name-and-record pair keeps the
//! index small.

use alloc::sync::Arc;
use core::hash::BuildHasher;

use hashbrown::hash_table::{Entry, HashTable};
use hashbrown::DefaultHashBuilder;

use crate::slot::Slot;

#[derive(Default)]
pub(crate) struct NameIndex {
    table: HashTable<Arc<Slot>>,
    hasher: DefaultHashBuilder,
}

impl NameIndex {
    fn hash(&self, name: &str) -> u64 {
        self.hasher.hash_one(name)
    }

    /// The service called `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Arc<Slot>> {
        self.table.find(self.hash(name), |slot| &*slot.name == name)
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Adds the record `make` builds for `name` unless the name is taken:
    /// then `Err` with the record that holds it. One search either way.
    pub(crate) fn insert_new(
        &mut self,
        name: &str,
        make: impl FnOnce() -> Arc<Slot>,
    ) -> Result<Arc<Slot>, Arc<Slot>> {
        let hash = self.hash(name);
        let hasher = &self.hasher;
        match self.table.entry(
            hash,
            |slot| &*slot.name == name,
            |slot| hasher.hash_one(&*slot.name),
        ) {
            Entry::Occupied(taken) => Err(taken.get().clone()),
            Entry::Vacant(free) => {
                let slot = make();
                free.insert(slot.clone());
                Ok(slot)
            }
        }
    }
}
