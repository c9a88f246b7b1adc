//! The two stores a channel syncs: the IMAP server (far) and the maildir tree (near).

pub mod imap;
pub mod maildir;
