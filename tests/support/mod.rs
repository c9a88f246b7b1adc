//! Test support shared by the integration tests: a private Dovecot, a scripted fake IMAP
//! server, a fault-injecting proxy, a corpus, comparisons.
#![allow(dead_code)] // each test module uses a different part of the support API

pub mod compare;
pub mod corpus;
pub mod dovecot;
pub mod fake_imap;
pub mod mailtext;
pub mod proxy;
