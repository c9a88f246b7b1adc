//! Maildir store (to be written).
