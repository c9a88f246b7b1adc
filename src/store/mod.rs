//! The two stores a channel syncs: the IMAP server (far) and the maildir tree (near), and
//! the interface ([`FarStore`], [`NearStore`]) the executor uses to reach either.

mod far_impl;
pub mod imap;
pub mod maildir;
#[cfg(test)]
pub mod memory;
mod near_impl;
pub mod traits;

pub use traits::{FarStore, NearStore};
