//! The governor's services by name: a hash table of the records
//! themselves, hashed by the name each record holds.
//!
//! A hash table rather than an ordered map: adding a service is one hash
//! and (almost always) one comparison, where a `BTreeMap` compared the new
//! name with about twenty others at a million services. Each entry keeps
//! its name's hash next to the record (two words, where a name-and-record
//! pair would be three): growing the table rehashes from the entries
//! alone, without visiting a million records and names, which made adding
//! services slower per service at a million than at ten thousand.

use alloc::sync::Arc;
use core::hash::BuildHasher;

use hashbrown::hash_table::{Entry, HashTable};
use hashbrown::DefaultHashBuilder;

use crate::record::Record;

#[derive(Default)]
pub(crate) struct NameIndex {
    table: HashTable<(u64, Arc<Record>)>,
    hasher: DefaultHashBuilder,
}

impl NameIndex {
    fn hash(&self, name: &str) -> u64 {
        self.hasher.hash_one(name)
    }

    /// The service called `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Arc<Record>> {
        let hash = self.hash(name);
        self.table
            .find(hash, |(seen, record)| {
                *seen == hash && &*record.name == name
            })
            .map(|(_, record)| record)
    }

    /// Takes `record` out of the index, if it is the record its name leads
    /// to; returns it (to be dropped outside any lock).
    pub(crate) fn remove(&mut self, record: &Arc<Record>) -> Option<Arc<Record>> {
        let hash = self.hash(&record.name);
        let found = self
            .table
            .find_entry(hash, |(seen, held)| {
                *seen == hash && Arc::ptr_eq(held, record)
            })
            .ok()?;
        let ((_, removed), _) = found.remove();
        Some(removed)
    }

    /// Adds the record `make` builds for `name` unless the name is taken:
    /// then `Err` with the record that holds it. One search either way.
    pub(crate) fn insert_new(
        &mut self,
        name: &str,
        make: impl FnOnce() -> Arc<Record>,
    ) -> Result<Arc<Record>, Arc<Record>> {
        let hash = self.hash(name);
        match self.table.entry(
            hash,
            |(seen, record)| *seen == hash && &*record.name == name,
            |(seen, _)| *seen,
        ) {
            Entry::Occupied(taken) => Err(taken.get().1.clone()),
            Entry::Vacant(free) => {
                let record = make();
                free.insert((hash, record.clone()));
                Ok(record)
            }
        }
    }
}
