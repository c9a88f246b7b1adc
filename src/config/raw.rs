//! The config file as written: every table and key with its place in the file, and
//! unknown keys refused by serde. Checked and resolved into the public types in `mod.rs`.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

type Opt<T> = Option<Spanned<T>>;
pub(super) type Tables<T> = Spanned<BTreeMap<Spanned<String>, Spanned<T>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub general: Opt<RawGeneral>,
    pub account: Option<Tables<RawAccount>>,
    pub channel: Option<Tables<RawChannel>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGeneral {
    pub state_dir: Opt<String>,
    pub jobs: Opt<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccount {
    pub host: Opt<String>,
    pub port: Opt<i64>,
    pub tls: Opt<String>,
    pub ca_file: Opt<String>,
    pub user: Opt<String>,
    pub password: Opt<String>,
    pub pass_cmd: Opt<String>,
    pub connections: Opt<i64>,
    pub timeout: Opt<i64>,
    pub allow_plaintext: Opt<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChannel {
    pub account: Opt<String>,
    pub maildir: Opt<String>,
    pub layout: Opt<String>,
    pub folder_names: Opt<String>,
    pub folders: Opt<Vec<Spanned<String>>>,
    pub direction: Opt<String>,
    pub create: Opt<String>,
    pub remove: Opt<String>,
    pub expunge: Opt<String>,
    pub max_size: Opt<toml::Value>,
}
