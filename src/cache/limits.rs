//! The two cache limits (bytes and entries) folded into one moka weight budget.
//!
//! moka enforces a single `max_capacity` against the sum of entry weights. We need `Σ len ≤ bytes_cap`
//! **and** `n ≤ entries_cap`. With `m = ceil(bytes_cap / entries_cap)` and `weight(len) = max(len, m)`,
//! `Σ weight ≤ bytes_cap` implies both: `Σ len ≤ Σ weight` and `n · m ≤ Σ weight ≤ bytes_cap`, so
//! `n ≤ bytes_cap / m ≤ entries_cap`. Any additive weight that guarantees both bounds must satisfy
//! `w(len) ≥ len` and `w(len) ≥ m`, so `max(len, m)` is the least restrictive such scheme (the one suggested
//! by `docs/router-api.md` §7).
//!
//! moka weights are `u32`; when the largest possible weight does not fit, weights are counted in `unit`-byte
//! blocks (rounded up) and the budget in whole blocks (rounded down), which keeps both bounds sound.

use crate::config::CacheConfig;

/// Derived sizing of the moka cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Byte capacity (`total` in stats).
    pub total: u64,
    /// Largest object that may be cached (never above `total`).
    pub max_object_size: u64,
    /// Minimum charged bytes per entry (`ceil(total / entries_cap)`, 1 without an entry limit).
    min_charge: u64,
    /// Bytes per weight unit (1 unless weights would overflow `u32`).
    unit: u64,
}

impl Limits {
    pub fn new(cfg: &CacheConfig) -> Self {
        let total = cfg.capacity_bytes;
        let min_charge = if cfg.capacity_entries == 0 {
            1
        } else {
            total.div_ceil(cfg.capacity_entries).max(1)
        };
        let max_object_size = cfg.max_object_size.min(total);
        let largest_weight = max_object_size.max(min_charge);
        let unit = largest_weight.div_ceil(u64::from(u32::MAX)).max(1);
        Self {
            total,
            max_object_size,
            min_charge,
            unit,
        }
    }

    /// moka's `max_capacity`, in weight units.
    pub fn max_capacity(&self) -> u64 {
        self.total / self.unit
    }

    /// moka weight of an object of `len` bytes.
    pub fn weight(&self, len: u64) -> u32 {
        let units = len.max(self.min_charge).div_ceil(self.unit);
        u32::try_from(units).unwrap_or(u32::MAX)
    }

    /// Whether an object of `size` bytes may be cached at all.
    pub fn admits(&self, size: u64) -> bool {
        self.total > 0 && size <= self.max_object_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CachePolicy;

    fn cfg(entries: u64, bytes: u64, max_object: u64) -> CacheConfig {
        CacheConfig {
            enabled: true,
            policy: CachePolicy::Lru,
            capacity_entries: entries,
            capacity_bytes: bytes,
            max_object_size: max_object,
        }
    }

    #[test]
    fn small_objects_are_charged_one_entry_slot() {
        let l = Limits::new(&cfg(100, 1_000_000_000, 125_000_000));
        assert_eq!(l.max_capacity(), 1_000_000_000);
        assert_eq!(l.weight(1), 10_000_000);
        assert_eq!(l.weight(125_000_000), 125_000_000);
        assert!(l.admits(125_000_000));
        assert!(!l.admits(125_000_001));
    }

    #[test]
    fn entry_limit_bounds_the_count_even_when_division_rounds() {
        // 1000 / 3 rounds up to 334: at most 2 entries of charge 334 fit, never 4.
        let l = Limits::new(&cfg(3, 1000, 1000));
        let per_entry = u64::from(l.weight(0));
        assert!(l.max_capacity() / per_entry <= 3);
        assert!(l.max_capacity() / per_entry >= 2);
    }

    #[test]
    fn no_entry_limit_charges_real_length_with_a_floor_of_one() {
        let l = Limits::new(&cfg(0, 500, 100));
        assert_eq!(l.weight(0), 1);
        assert_eq!(l.weight(77), 77);
    }

    #[test]
    fn huge_capacities_use_coarser_units_without_overflow() {
        let tb = 10u64.pow(13);
        let l = Limits::new(&cfg(0, tb, tb));
        assert!(l.unit > 1);
        assert!(l.weight(tb) < u32::MAX);
        // Byte bound stays sound: charged bytes are never below real bytes.
        assert!(u64::from(l.weight(12_345)) * l.unit >= 12_345);
        assert!(l.max_capacity() * l.unit <= tb);
    }

    #[test]
    fn zero_capacity_admits_nothing_and_max_object_is_clamped() {
        assert!(!Limits::new(&cfg(10, 0, 0)).admits(0));
        let l = Limits::new(&cfg(10, 100, 1000));
        assert_eq!(l.max_object_size, 100);
        assert!(!l.admits(101));
    }
}
