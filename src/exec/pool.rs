//! IMAP connections per account: at most `connections` open at once, reused across the
//! folder jobs of a run, each used by one job at a time.

use crate::config::Account;
use crate::store::imap::{FarError, FarResult, FarSession};
use std::sync::{Condvar, Mutex, OnceLock};

/// The connections of one account.
pub struct AccountPool {
    pub account: Account,
    password: OnceLock<Result<String, String>>,
    slots: Mutex<Slots>,
    freed: Condvar,
}

struct Slots {
    idle: Vec<FarSession>,
    open: usize,
    /// Of `open`, how many are still logging in.
    opening: usize,
}

/// A connection lent to one job; it goes back to the pool when dropped, unless the job
/// found it broken.
pub struct Lease<'a> {
    pool: &'a AccountPool,
    session: Option<FarSession>,
}

impl AccountPool {
    pub fn new(account: Account) -> AccountPool {
        AccountPool {
            account,
            password: OnceLock::new(),
            slots: Mutex::new(Slots {
                idle: Vec::new(),
                open: 0,
                opening: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// The password, from `password` or by running `pass_cmd` once per run.
    fn password(&self) -> FarResult<&str> {
        match self
            .password
            .get_or_init(|| self.account.secret.resolve().map_err(|e| e.to_string()))
        {
            Ok(password) => Ok(password),
            Err(e) => Err(FarError::permanent(e.clone())),
        }
    }

    /// Lends an idle connection, opens a new one while under the limit, or waits for one.
    pub fn lease(&self) -> FarResult<Lease<'_>> {
        loop {
            if let Some(lent) = self.lend(true) {
                return lent;
            }
        }
    }

    /// Opens up to `count` connections at once on threads of `scope`, within the limit:
    /// each goes idle once logged in (a login is several round trips, so they overlap);
    /// one that fails to open is simply not there (whoever needs it opens it and reports
    /// what goes wrong).
    pub fn open_ahead<'s>(&'s self, scope: &'s std::thread::Scope<'s, '_>, count: usize) {
        let reserved = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            let room = self.account.connections.max(1).saturating_sub(slots.open);
            let reserved = count.min(room);
            slots.open += reserved;
            slots.opening += reserved;
            reserved
        };
        for _ in 0..reserved {
            scope.spawn(move || {
                let opened = self
                    .password()
                    .and_then(|password| FarSession::connect(&self.account, password));
                let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
                slots.opening = slots.opening.saturating_sub(1);
                match opened {
                    Ok(session) => slots.idle.push(session),
                    Err(_) => slots.open = slots.open.saturating_sub(1),
                }
                drop(slots);
                // Whoever waits for the first login to end looks again.
                self.freed.notify_all();
            });
        }
    }

    /// Lends the first connection ready: an idle one, else, while connections opened by
    /// [`AccountPool::open_ahead`] are logging in, whichever of them is done first; else
    /// as [`AccountPool::lease`] does.
    pub fn lease_first_ready(&self) -> FarResult<Lease<'_>> {
        loop {
            let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            if slots.idle.is_empty() && slots.opening > 0 {
                // A login that ends (well or not) wakes this up.
                drop(self.freed.wait(slots).unwrap_or_else(|e| e.into_inner()));
                continue;
            }
            drop(slots);
            if let Some(lent) = self.lend(true) {
                return lent;
            }
        }
    }

    /// Lends an idle connection or opens a new one while under the limit, without
    /// waiting: `None` when every connection is busy (or the one opened failed).
    pub fn try_lease(&self) -> Option<Lease<'_>> {
        self.lend(false).and_then(Result::ok)
    }

    /// An idle connection, else a new one while under the limit (a failure to open it is
    /// the error); else, with `wait`, `None` once a connection was given back (ask
    /// again), without, `None` at once.
    fn lend(&self, wait: bool) -> Option<FarResult<Lease<'_>>> {
        let limit = self.account.connections.max(1);
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(session) = slots.idle.pop() {
            return Some(Ok(Lease {
                pool: self,
                session: Some(session),
            }));
        }
        if slots.open >= limit {
            if wait {
                drop(self.freed.wait(slots).unwrap_or_else(|e| e.into_inner()));
            }
            return None;
        }
        slots.open += 1;
        drop(slots);
        let opened = self
            .password()
            .and_then(|password| FarSession::connect(&self.account, password));
        Some(match opened {
            Ok(session) => Ok(Lease {
                pool: self,
                session: Some(session),
            }),
            Err(e) => {
                self.release_slot();
                Err(e)
            }
        })
    }

    /// Whether [`AccountPool::try_lease`] would find a connection now (it may not, by
    /// the time it is called).
    pub fn has_room(&self) -> bool {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        !slots.idle.is_empty() || slots.open < self.account.connections.max(1)
    }

    fn release_slot(&self) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.open = slots.open.saturating_sub(1);
        self.freed.notify_one();
    }

    /// Logs out of every idle connection.
    pub fn close(&self) {
        let idle = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.open = slots.open.saturating_sub(slots.idle.len());
            std::mem::take(&mut slots.idle)
        };
        for session in idle {
            session.logout();
        }
    }
}

impl<'a> Lease<'a> {
    /// The pool the connection goes back to.
    pub fn pool(&self) -> &'a AccountPool {
        self.pool
    }

    pub fn session(&mut self) -> &mut FarSession {
        self.session
            .as_mut()
            .unwrap_or_else(|| unreachable!("a lease holds its session until dropped"))
    }

    /// The connection failed: close it instead of lending it again.
    pub fn discard(mut self) {
        self.session = None;
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        match self.session.take() {
            // Out of step with the server (a broken answer): never lent again.
            Some(session) if session.is_broken() => self.pool.release_slot(),
            Some(session) => {
                let mut slots = self.pool.slots.lock().unwrap_or_else(|e| e.into_inner());
                slots.idle.push(session);
                self.pool.freed.notify_one();
            }
            None => self.pool.release_slot(),
        }
    }
}
