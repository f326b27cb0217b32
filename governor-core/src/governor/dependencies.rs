//! Dependency resolution at start: every dependency of the services
//! being started must exist (and not be leaving), and no cycle may run
//! through them. Runs under the governor's lock, touches no user code.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::error::Error;
use crate::name_index::NameIndex;
use crate::record::{Launch, Record};

/// Checks that every dependency of `starting` (each with the names it
/// depends on) exists and that no cycle runs through them.
pub(super) fn check_dependencies(
    names: &NameIndex,
    starting: &[(&Arc<Record>, Launch)],
) -> Result<(), Error> {
    for (record, taken) in starting {
        for dependency in &taken.depends_on {
            // A service being removed takes no new dependents.
            if names.get(dependency).is_none_or(|d| d.leaving()) {
                return Err(Error::UnknownDependency {
                    service: record.name.clone(),
                    dependency: dependency.clone(),
                });
            }
        }
    }
    // Depth-first search for a back edge, iterative (no recursion depth
    // limit), from every service being started.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        OnPath,
        Done,
    }
    let mut marks: BTreeMap<Arc<str>, Mark> = BTreeMap::new();
    for (root, taken) in starting {
        let root_deps = &taken.depends_on;
        // No edge leaves it, so no cycle runs through it (the common case:
        // no map, no allocation).
        if root_deps.is_empty() || marks.contains_key(&root.name) {
            continue;
        }
        // (service, its dependencies, next dependency to visit)
        let mut path: Vec<(Arc<str>, Vec<Arc<str>>, usize)> =
            alloc::vec![(root.name.clone(), root_deps.clone(), 0)];
        marks.insert(root.name.clone(), Mark::OnPath);
        while let Some((_, deps, next)) = path.last_mut() {
            let Some(dep) = deps.get(*next).cloned() else {
                let (done, _, _) = path.pop().expect("path is not empty");
                marks.insert(done, Mark::Done);
                continue;
            };
            *next += 1;
            match marks.get(&dep) {
                Some(Mark::Done) => {}
                Some(Mark::OnPath) => {
                    let from = path
                        .iter()
                        .position(|(name, _, _)| *name == dep)
                        .unwrap_or(0);
                    return Err(Error::DependencyCycle {
                        cycle: path[from..].iter().map(|(n, _, _)| n.clone()).collect(),
                    });
                }
                None => {
                    let deps = names.get(&dep).map(|s| s.depends_on()).unwrap_or_default();
                    marks.insert(dep.clone(), Mark::OnPath);
                    path.push((dep, deps, 0));
                }
            }
        }
    }
    Ok(())
}
