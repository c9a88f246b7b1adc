//! [`FarStore`] for the real IMAP connection: each method is [`FarSession`]'s own.

use crate::flags::Flags;
use crate::model::{FarChanges, FarMessage, FarUid, PairKey};
use crate::store::imap::{FarResult, FarSession, FlagStore, Selected, Upload};
use crate::store::traits::FarStore;
use std::time::SystemTime;

impl FarStore for FarSession {
    fn select(&mut self, server_name: &str, read_only: bool) -> FarResult<Selected> {
        FarSession::select(self, server_name, read_only)
    }

    fn list_messages(&mut self, exists: u32) -> FarResult<Vec<FarMessage>> {
        FarSession::list_messages(self, exists)
    }

    fn changes_since(&mut self, modseq: u64, below: u32, exists: u32) -> FarResult<FarChanges> {
        FarSession::changes_since(self, modseq, below, exists)
    }

    fn append_many(
        &mut self,
        server_name: &str,
        uploads: &[Upload<'_>],
    ) -> FarResult<Vec<Option<FarUid>>> {
        FarSession::append_many(self, server_name, uploads)
    }

    fn pair_keys(&mut self, uids: &[FarUid]) -> FarResult<Vec<(FarUid, PairKey)>> {
        FarSession::pair_keys(self, uids)
    }

    fn fetch_bodies(
        &mut self,
        wanted: &[(FarUid, u32)],
        deliver: &mut dyn FnMut(FarUid, &[u8]) -> anyhow::Result<()>,
        after_batch: &mut dyn FnMut() -> anyhow::Result<()>,
    ) -> anyhow::Result<Vec<FarUid>> {
        FarSession::fetch_bodies(self, wanted, deliver, after_batch)
    }

    fn append(
        &mut self,
        server_name: &str,
        body: &[u8],
        flags: Flags,
        date: Option<SystemTime>,
    ) -> FarResult<Option<FarUid>> {
        FarSession::append(self, server_name, body, flags, date)
    }

    fn uids_from(&mut self, from: u32) -> FarResult<Vec<FarUid>> {
        FarSession::uids_from(self, from)
    }

    fn store_and_delete(
        &mut self,
        stores: &[FlagStore<'_>],
        deletes: &[FarUid],
        expunge_others: bool,
    ) -> FarResult<()> {
        FarSession::store_and_delete(self, stores, deletes, expunge_others)
    }

    fn create_folder(&mut self, server_name: &str) -> FarResult<()> {
        FarSession::create_folder(self, server_name)
    }

    fn delete_folder(&mut self, server_name: &str) -> FarResult<()> {
        FarSession::delete_folder(self, server_name)
    }
}
