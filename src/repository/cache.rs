//! The repository's cache of folded cases: bounded by a capacity the host sets, least
//! recently used cases leave first.
//!
//! The cache is split into up to [`MAX_SHARDS`] shards by case id, each an LRU list
//! behind its own short lock, so commands on different cases rarely meet on a lock.
//! Each cached case sits in its own [`Slot`], locked only by commands on that case.
//! Lock order: a shard, then a slot; never a shard while holding a slot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::case::Case;
use crate::id::CaseId;

/// Most shards a cache is split into.
const MAX_SHARDS: usize = 16;

/// Fewest cases a shard holds when the capacity allows: with fewer, two busy cases
/// landing in one shard would push each other out.
const MIN_PER_SHARD: usize = 64;

/// One cached case. Readers take an `Arc<Case>` snapshot; a command folds its events in
/// place (`Arc::make_mut`), which copies the case only while a reader still holds an
/// older snapshot.
#[derive(Debug)]
pub(crate) struct Slot(Mutex<Arc<Case>>);

impl Slot {
    fn new(case: Case) -> Self {
        Self(Mutex::new(Arc::new(case)))
    }

    /// The case, locked. A host policy that panicked during `decide` poisons the lock
    /// without having changed the case (decide only reads it), so the poison is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Arc<Case>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A snapshot of the case as it is now.
    pub(crate) fn snapshot(&self) -> Arc<Case> {
        Arc::clone(&self.lock())
    }
}

/// The bounded cache: shards of LRU lists.
#[derive(Debug)]
pub(crate) struct Cache {
    shards: Box<[Mutex<Lru>]>,
    capacity: usize,
}

impl Cache {
    /// A cache holding at most `capacity` cases (0: none; every command reads its case).
    pub(crate) fn new(capacity: usize) -> Self {
        let count = (capacity / MIN_PER_SHARD).clamp(1, MAX_SHARDS);
        let base = capacity / count;
        let extra = capacity % count;
        let shards = (0..count).map(|i| Mutex::new(Lru::new(base + usize::from(i < extra)))).collect();
        Self { shards, capacity }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many cases are cached now.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).map.len()).sum()
    }

    /// The cached slot of `case`, marked as just used.
    pub(crate) fn get(&self, case: CaseId) -> Option<Arc<Slot>> {
        self.shard(case).and_then(|s| lock(s).get(case))
    }

    /// Caches `loaded` (just read from the store) unless the cache already holds the case
    /// at the same or a later version, and returns the case's slot. With capacity 0 the
    /// slot is returned but not kept.
    pub(crate) fn insert(&self, id: CaseId, loaded: Case) -> Arc<Slot> {
        let Some(shard) = self.shard(id) else {
            return Arc::new(Slot::new(loaded));
        };
        let mut shard = lock(shard);
        if let Some(slot) = shard.get(id) {
            let mut case = slot.lock();
            if case.version() < loaded.version() {
                *case = Arc::new(loaded);
            }
            drop(case);
            return slot;
        }
        let slot = Arc::new(Slot::new(loaded));
        shard.insert(id, Arc::clone(&slot));
        slot
    }

    /// Keeps the cache from falling behind `slot`, through which a command has just
    /// written. While the command waited for the store its slot may have been evicted and
    /// a concurrent read may have cached the case as it was before the write (or nothing):
    /// the cache then takes this slot's state, so a host reads its own completed writes.
    pub(crate) fn offer(&self, id: CaseId, slot: &Arc<Slot>) {
        let Some(shard) = self.shard(id) else { return };
        let ours = slot.snapshot();
        let mut shard = lock(shard);
        match shard.get(id) {
            Some(held) if Arc::ptr_eq(&held, slot) => {}
            Some(held) => {
                let mut case = held.lock();
                if case.version() < ours.version() {
                    *case = ours;
                }
            }
            None => shard.insert(id, Arc::clone(slot)),
        }
    }

    /// Drops `case` from the cache if `slot` is what it holds for it (a slot another
    /// command has just reloaded stays).
    pub(crate) fn remove(&self, case: CaseId, slot: &Arc<Slot>) {
        if let Some(shard) = self.shard(case) {
            lock(shard).remove(case, Some(slot));
        }
    }

    /// Drops `case` from the cache, whatever it holds.
    pub(crate) fn forget(&self, case: CaseId) {
        if let Some(shard) = self.shard(case) {
            lock(shard).remove(case, None);
        }
    }

    fn shard(&self, case: CaseId) -> Option<&Mutex<Lru>> {
        let bits = case.as_uuid().as_u128();
        // v7 ids start with a timestamp: mix both halves so neighbours spread out.
        #[allow(clippy::cast_possible_truncation)] // Keeping the low half is the point.
        let mixed = ((bits >> 64) as u64 ^ bits as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // The product's top bits depend on every input bit: scale them to the shard count.
        let count = self.shards.len() as u64;
        let index = usize::try_from(((mixed >> 32) * count) >> 32).unwrap_or(0);
        self.shards.get(index).filter(|_| self.capacity > 0)
    }
}

fn lock(shard: &Mutex<Lru>) -> MutexGuard<'_, Lru> {
    // Every operation leaves the list consistent before anything that could panic.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A least-recently-used list over a slab: O(1) lookup, touch, insert and eviction.
#[derive(Debug)]
struct Lru {
    map: HashMap<CaseId, usize>,
    nodes: Vec<Node>,
    free: Vec<usize>,
    /// Most recently used.
    head: Option<usize>,
    /// Least recently used: the next to leave.
    tail: Option<usize>,
    capacity: usize,
}

#[derive(Debug)]
struct Node {
    case: CaseId,
    slot: Option<Arc<Slot>>,
    prev: Option<usize>,
    next: Option<usize>,
}

impl Lru {
    fn new(capacity: usize) -> Self {
        Self { map: HashMap::new(), nodes: Vec::new(), free: Vec::new(), head: None, tail: None, capacity }
    }

    fn get(&mut self, case: CaseId) -> Option<Arc<Slot>> {
        let index = *self.map.get(&case)?;
        self.unlink(index);
        self.push_front(index);
        self.nodes.get(index).and_then(|n| n.slot.clone())
    }

    fn insert(&mut self, case: CaseId, slot: Arc<Slot>) {
        if self.capacity == 0 {
            return;
        }
        while self.map.len() >= self.capacity {
            let Some(oldest) = self.tail else { break };
            self.evict(oldest);
        }
        let node = Node { case, slot: Some(slot), prev: None, next: None };
        let index = match self.free.pop() {
            Some(index) => {
                if let Some(free) = self.nodes.get_mut(index) {
                    *free = node;
                }
                index
            }
            None => {
                self.nodes.push(node);
                self.nodes.len() - 1
            }
        };
        self.map.insert(case, index);
        self.push_front(index);
    }

    fn remove(&mut self, case: CaseId, only: Option<&Arc<Slot>>) {
        let Some(&index) = self.map.get(&case) else { return };
        let held = self.nodes.get(index).and_then(|n| n.slot.as_ref());
        if let (Some(only), Some(held)) = (only, held) {
            if !Arc::ptr_eq(only, held) {
                return;
            }
        }
        self.evict(index);
    }

    fn evict(&mut self, index: usize) {
        self.unlink(index);
        if let Some(node) = self.nodes.get_mut(index) {
            node.slot = None;
            self.map.remove(&node.case);
        }
        self.free.push(index);
    }

    fn unlink(&mut self, index: usize) {
        let Some(node) = self.nodes.get(index) else { return };
        let (prev, next) = (node.prev, node.next);
        match prev.and_then(|p| self.nodes.get_mut(p)) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match next.and_then(|n| self.nodes.get_mut(n)) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
        if let Some(node) = self.nodes.get_mut(index) {
            node.prev = None;
            node.next = None;
        }
    }

    fn push_front(&mut self, index: usize) {
        let old_head = self.head;
        if let Some(node) = self.nodes.get_mut(index) {
            node.prev = None;
            node.next = old_head;
        }
        match old_head.and_then(|h| self.nodes.get_mut(h)) {
            Some(head) => head.prev = Some(index),
            None => self.tail = Some(index),
        }
        self.head = Some(index);
    }
}
