//! The repository's cache of folded cases: bounded by a capacity the host sets, least
//! recently used cases leave first.
//!
//! The cache is split into up to [`MAX_SHARDS`] shards by case id, each an LRU list
//! behind its own short lock, so commands on different cases rarely meet on a lock.
//! Each cached case sits in its own [`Slot`], locked only by commands on that case.
//! Lock order: a shard, then a slot; never a shard while holding a slot, and never two
//! shards at once.
//!
//! The capacity bounds the whole cache, not each shard: case ids never spread evenly
//! over shards, and a shard with a fixed share would evict on every visit as soon as
//! its share of the working set exceeded it, even with the cache as a whole big enough
//! (an LRU list visited in a cycle one larger than itself never hits). So a shard grows
//! as far as the cache has room, and the shard that inserts past the capacity evicts its
//! own least recently used case (or, when it holds nothing else, another shard's).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::case::Case;
use crate::fnv::IdHashing;
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
pub(crate) struct Slot {
    case: Mutex<Arc<Case>>,
    /// Whether a shard holds this slot: set when a shard adds it and cleared when it
    /// leaves, both under that shard's lock. Lets a command that wrote through the slot
    /// see without a lookup that the cache still holds it ([`Cache::offer`]).
    cached: AtomicBool,
}

impl Slot {
    fn new(case: Case) -> Self {
        Self { case: Mutex::new(Arc::new(case)), cached: AtomicBool::new(false) }
    }

    /// A slot starting from a snapshot another cache holds; the first fold copies it.
    #[cfg(feature = "postgres")]
    fn shared(case: Arc<Case>) -> Self {
        Self { case: Mutex::new(case), cached: AtomicBool::new(false) }
    }

    /// The case, locked. A host policy that panicked during `decide` poisons the lock
    /// without having changed the case (decide only reads it), so the poison is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Arc<Case>> {
        self.case.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A snapshot of the case as it is now.
    pub(crate) fn snapshot(&self) -> Arc<Case> {
        Arc::clone(&self.lock())
    }
}

/// The bounded cache: shards of LRU lists under one capacity.
#[derive(Debug)]
pub(crate) struct Cache {
    shards: Box<[Shard]>,
    capacity: usize,
    /// Cases held by all shards together; each shard changes it under its own lock.
    len: AtomicUsize,
}

impl Cache {
    /// A cache holding at most `capacity` cases (0: none; every command reads its case).
    pub(crate) fn new(capacity: usize) -> Self {
        let count = (capacity / MIN_PER_SHARD).clamp(1, MAX_SHARDS);
        let shards = (0..count).map(|_| Shard(Mutex::new(Lru::new()))).collect();
        Self { shards, capacity, len: AtomicUsize::new(0) }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many cases are cached now.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
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
        self.add(shard, id, Arc::clone(&slot));
        slot
    }

    /// Adds a case `shard` does not hold, then brings the cache back within capacity.
    fn add(&self, mut shard: MutexGuard<'_, Lru>, id: CaseId, slot: Arc<Slot>) {
        shard.insert(id, slot);
        if self.len.fetch_add(1, Ordering::Relaxed) < self.capacity {
            return;
        }
        // Over capacity by the case just added: the inserting shard gives up its least
        // recently used case, unless that is the new one.
        if shard.map.len() > 1 && shard.evict_oldest() {
            self.len.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        drop(shard);
        for other in self.shards.iter() {
            let mut other = lock(&other.0);
            if other.map.len() > usize::from(other.map.contains_key(&id)) && other.evict_oldest() {
                self.len.fetch_sub(1, Ordering::Relaxed);
                return;
            }
        }
    }

    /// Keeps the cache from falling behind `slot`, through which a command has just
    /// written. While the command waited for the store its slot may have been evicted and
    /// a concurrent read may have cached the case as it was before the write (or nothing):
    /// the cache then takes this slot's state, so a host reads its own completed writes.
    pub(crate) fn offer(&self, id: CaseId, slot: &Arc<Slot>) {
        // The usual case: the slot was never evicted, so the cache holds it for `id` (a
        // shard holds one slot per case, and a new one only once this one has left).
        if slot.cached.load(Ordering::Acquire) {
            return;
        }
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
            None => self.add(shard, id, Arc::clone(slot)),
        }
    }

    /// Caches `case` (a state the store has committed) unless the cache already holds the
    /// case at the same or a later version: how a transaction's cases reach the shared
    /// cache once the host's transaction has committed, and how a transaction's private
    /// cache starts from the shared one.
    #[cfg(feature = "postgres")]
    pub(crate) fn settle(&self, id: CaseId, case: Arc<Case>) {
        let Some(shard) = self.shard(id) else { return };
        let mut shard = lock(shard);
        match shard.get(id) {
            Some(held) => {
                let mut cached = held.lock();
                if cached.version() < case.version() {
                    *cached = case;
                }
            }
            None => self.add(shard, id, Arc::new(Slot::shared(case))),
        }
    }

    /// Drops `case` from the cache if `slot` is what it holds for it (a slot another
    /// command has just reloaded stays).
    pub(crate) fn remove(&self, case: CaseId, slot: &Arc<Slot>) {
        if let Some(shard) = self.shard(case) {
            if lock(shard).remove(case, Some(slot)) {
                self.len.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Drops `case` from the cache, whatever it holds.
    pub(crate) fn forget(&self, case: CaseId) {
        if let Some(shard) = self.shard(case) {
            if lock(shard).remove(case, None) {
                self.len.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    fn shard(&self, case: CaseId) -> Option<&Mutex<Lru>> {
        self.shards.get(case.bucket(self.shards.len())).filter(|_| self.capacity > 0).map(|shard| &shard.0)
    }
}

/// One shard, alone on its cache line(s): every hit relinks its LRU list, and a shard
/// whose lock shared a line with its neighbour's list would make two threads on
/// different shards take turns owning that line.
#[derive(Debug)]
#[repr(align(64))]
struct Shard(Mutex<Lru>);

fn lock(shard: &Mutex<Lru>) -> MutexGuard<'_, Lru> {
    // Every operation leaves the list consistent before anything that could panic.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A least-recently-used list over a slab: O(1) lookup, touch, insert and eviction.
#[derive(Debug)]
struct Lru {
    map: HashMap<CaseId, usize, IdHashing>,
    nodes: Vec<Node>,
    free: Vec<usize>,
    /// Most recently used.
    head: Option<usize>,
    /// Least recently used: the next to leave.
    tail: Option<usize>,
}

#[derive(Debug)]
struct Node {
    case: CaseId,
    slot: Option<Arc<Slot>>,
    prev: Option<usize>,
    next: Option<usize>,
}

impl Lru {
    fn new() -> Self {
        Self { map: HashMap::default(), nodes: Vec::new(), free: Vec::new(), head: None, tail: None }
    }

    fn get(&mut self, case: CaseId) -> Option<Arc<Slot>> {
        let index = *self.map.get(&case)?;
        // A case used again right away (a burst of commands on one case) is already the
        // most recently used.
        if self.head != Some(index) {
            self.unlink(index);
            self.push_front(index);
        }
        self.nodes.get(index).and_then(|n| n.slot.clone())
    }

    /// Adds a case the list does not hold, as the most recently used.
    fn insert(&mut self, case: CaseId, slot: Arc<Slot>) {
        slot.cached.store(true, Ordering::Release);
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

    /// Removes `case` (only if it holds `only`, when given); whether it did.
    fn remove(&mut self, case: CaseId, only: Option<&Arc<Slot>>) -> bool {
        let Some(&index) = self.map.get(&case) else { return false };
        let held = self.nodes.get(index).and_then(|n| n.slot.as_ref());
        if let (Some(only), Some(held)) = (only, held) {
            if !Arc::ptr_eq(only, held) {
                return false;
            }
        }
        self.evict(index);
        true
    }

    /// Removes the least recently used case; whether there was one.
    fn evict_oldest(&mut self) -> bool {
        let Some(oldest) = self.tail else { return false };
        self.evict(oldest);
        true
    }

    fn evict(&mut self, index: usize) {
        self.unlink(index);
        if let Some(node) = self.nodes.get_mut(index) {
            if let Some(slot) = node.slot.take() {
                slot.cached.store(false, Ordering::Release);
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::{Actor, Staff};
    use crate::command::Opening;
    use crate::rules::Rules;
    use time::macros::datetime;

    fn case(n: u32) -> (CaseId, Case) {
        let t = datetime!(2026-11-23 09:00 UTC);
        let mut random = [0; 10];
        random[..4].copy_from_slice(&n.to_be_bytes());
        // Ids as hosts make them: v7, a timestamp each, so their hashes spread unevenly.
        let id = CaseId::new_v7(t + time::Duration::milliseconds(i64::from(n)), random);
        let opened = Rules::default().open(
            id,
            Opening::new("cust-1", "it works", Staff::new("ana", "software")),
            &Actor::customer("cust-1"),
            t,
        );
        (id, Case::from_opened(&opened.expect("a valid opening")).expect("an opening folds"))
    }

    /// A working set as large as the capacity, visited in a cycle (the worst pattern for an
    /// LRU list one case too small), keeps nearly every case cached: the shards share the
    /// capacity instead of each holding a fixed part of it.
    #[test]
    fn a_working_set_equal_to_the_capacity_hits_at_least_95_percent() {
        for capacity in [64, 1_000, 10_000] {
            let cache = Cache::new(capacity);
            let cases: Vec<_> = (0..u32::try_from(capacity).unwrap_or(u32::MAX)).map(case).collect();
            let (mut hits, mut visits) = (0, 0);
            for _ in 0..3 {
                for (id, case) in &cases {
                    visits += 1;
                    match cache.get(*id) {
                        Some(_) => hits += 1,
                        None => drop(cache.insert(*id, case.clone())),
                    }
                }
            }
            // The first round loads every case; the later two are the hit rate.
            let rate = f64::from(hits) / f64::from(visits - u32::try_from(capacity).unwrap_or(0));
            assert!(rate >= 0.95, "capacity {capacity}: hit rate {rate:.3}");
            assert_eq!(cache.len(), capacity);
        }
    }

    #[test]
    fn the_capacity_bounds_the_whole_cache() {
        let cache = Cache::new(200);
        for n in 0..1_000 {
            let (id, case) = case(n);
            drop(cache.insert(id, case));
            assert!(cache.len() <= 200, "{} cached after {n}", cache.len());
        }
        assert_eq!(cache.len(), 200);
        let held: usize = cache.shards.iter().map(|s| lock(&s.0).map.len()).sum();
        assert_eq!(held, 200, "the count agrees with the shards");
        let none = Cache::new(0);
        let (id, c) = case(1);
        drop(none.insert(id, c));
        assert_eq!((none.len(), none.get(id).is_some()), (0, false));
    }
}
