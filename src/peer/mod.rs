//! The storage-peer server (mictlanx-peer).
