//! `FillTicket`: the buffer a GET tees a peer stream into before the bytes may enter the cache.

use bytes::{Bytes, BytesMut};

use super::generations::Stamp;

/// The generation of one key at the start of a read, taken by [`super::BallCache::fill_stamp`] before
/// the first peer request and turned into a [`FillTicket`] once the size is known.
#[derive(Debug, Clone)]
pub struct FillStamp {
    pub(crate) key: String,
    pub(crate) stamp: Stamp,
    /// The object's version in the cluster state, read before the first peer request; the entry is
    /// tagged with it and a hit is served only while the object is still at that version.
    pub(crate) version: u64,
}

impl FillStamp {
    pub(crate) fn new(key: String, stamp: Stamp) -> Self {
        Self {
            key,
            stamp,
            version: 0,
        }
    }

    pub fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }
}

/// An in-progress fill of one key, created by [`super::BallCache::begin_fill`] and consumed by
/// [`super::BallCache::finish_fill`]. It accepts at most the declared size; anything beyond abandons the
/// fill (a peer that sends more than `metadata.size` is not trusted for the cache).
#[derive(Debug)]
pub struct FillTicket {
    pub(crate) key: String,
    pub(crate) declared: u64,
    pub(crate) stamp: Stamp,
    pub(crate) version: u64,
    buf: BytesMut,
    received: u64,
    abandoned: bool,
}

impl FillTicket {
    pub(crate) fn new(key: String, declared: u64, stamp: Stamp, version: u64) -> Self {
        // `declared` is at most the cache's max object size, which the caller already checked.
        let capacity = usize::try_from(declared).unwrap_or(0);
        Self {
            key,
            declared,
            stamp,
            version,
            buf: BytesMut::with_capacity(capacity),
            received: 0,
            abandoned: false,
        }
    }

    /// Appends a chunk. Returns `false` once the fill is abandoned (more bytes than declared); the buffer
    /// is then released and later chunks are ignored.
    pub fn push(&mut self, chunk: &Bytes) -> bool {
        if self.abandoned {
            return false;
        }
        let len = chunk.len() as u64;
        if self.received + len > self.declared {
            self.abandoned = true;
            self.buf = BytesMut::new();
            return false;
        }
        self.buf.extend_from_slice(chunk);
        self.received += len;
        true
    }

    /// The combined key being filled.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Bytes accepted so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Whether exactly the declared size arrived and nothing more.
    pub fn is_complete(&self) -> bool {
        !self.abandoned && self.received == self.declared
    }

    /// The buffered bytes, if the fill is complete.
    pub(crate) fn into_bytes(self) -> Option<Bytes> {
        self.is_complete().then(|| self.buf.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(declared: u64) -> FillTicket {
        FillTicket::new(
            "b@k".into(),
            declared,
            Stamp {
                stripe: 0,
                generation: 0,
            },
            0,
        )
    }

    #[test]
    fn complete_only_at_exact_length() {
        let mut t = ticket(5);
        assert!(t.push(&Bytes::from_static(b"abc")));
        assert!(!t.is_complete());
        assert!(t.push(&Bytes::from_static(b"de")));
        assert!(t.is_complete());
        assert_eq!(t.into_bytes().as_deref(), Some(&b"abcde"[..]));
    }

    #[test]
    fn overflow_abandons_for_good() {
        let mut t = ticket(3);
        assert!(t.push(&Bytes::from_static(b"ab")));
        assert!(!t.push(&Bytes::from_static(b"cd")));
        assert!(!t.push(&Bytes::from_static(b"c")));
        assert!(!t.is_complete());
        assert_eq!(t.into_bytes(), None);
    }

    #[test]
    fn short_stream_yields_nothing() {
        let mut t = ticket(4);
        t.push(&Bytes::from_static(b"ab"));
        assert_eq!(t.received(), 2);
        assert_eq!(t.into_bytes(), None);
    }
}
