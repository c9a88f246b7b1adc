//! Integration tests against a private Dovecot.
