//! The run report of SPEC §5: per channel and folder, the counts and the message-level
//! actions, built from plan steps (a dry run) or from the steps carried out (a real run)
//! by the same function, so the two agree.

use crate::plan::{FlagChange, Step};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub dry_run: bool,
    pub channels: Vec<ChannelReport>,
    pub totals: Totals,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelReport {
    pub channel: String,
    pub folders: Vec<FolderReport>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Error,
    Skipped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CreatedOn {
    Far,
    Near,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderReport {
    pub far: String,
    pub near: String,
    pub status: Status,
    pub error: Option<String>,
    pub create: Option<CreatedOn>,
    pub download: u64,
    pub upload: u64,
    pub flags_to_far: u64,
    pub flags_to_near: u64,
    pub delete_far: u64,
    pub delete_near: u64,
    pub actions: Vec<Action>,
    /// Whether the far folder had changed since the last run (for the next run, which
    /// selects such a folder without asking STATUS first; not in the JSON report).
    #[serde(skip)]
    pub far_changed: bool,
}

/// One message-level action; `op` is one of the six count names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    Download {
        far_uid: u32,
        flags: String,
    },
    Upload {
        near_id: String,
        flags: String,
    },
    FlagsToFar {
        far_uid: u32,
        near_id: String,
        add: String,
        remove: String,
    },
    FlagsToNear {
        far_uid: u32,
        near_id: String,
        add: String,
        remove: String,
    },
    DeleteFar {
        far_uid: u32,
        near_id: Option<String>,
    },
    DeleteNear {
        far_uid: Option<u32>,
        near_id: String,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    pub download: u64,
    pub upload: u64,
    pub flags_to_far: u64,
    pub flags_to_near: u64,
    pub delete_far: u64,
    pub delete_near: u64,
    pub errors: u64,
}

impl FolderReport {
    /// A report with no actions yet.
    pub fn new(far: &str, near: &str) -> FolderReport {
        FolderReport {
            far: far.to_string(),
            near: near.to_string(),
            status: Status::Ok,
            error: None,
            create: None,
            download: 0,
            upload: 0,
            flags_to_far: 0,
            flags_to_near: 0,
            delete_far: 0,
            delete_near: 0,
            actions: Vec::new(),
            far_changed: false,
        }
    }

    pub fn failed(far: &str, near: &str, error: String) -> FolderReport {
        FolderReport {
            status: Status::Error,
            error: Some(error),
            ..FolderReport::new(far, near)
        }
    }

    pub fn skipped(far: &str, near: &str, why: String) -> FolderReport {
        FolderReport {
            status: Status::Skipped,
            error: Some(why),
            ..FolderReport::new(far, near)
        }
    }

    /// Adds the actions of plan steps (state-only steps add nothing), in a stable order.
    pub fn add_steps<'a>(&mut self, steps: impl IntoIterator<Item = &'a Step>) {
        for step in steps {
            self.count_steps([step]);
            match step {
                Step::Pair { .. }
                | Step::Forget { .. }
                | Step::ForgetUpload { .. }
                | Step::SetBase { .. } => {}
                Step::Download { uid, flags, .. } => self.actions.push(Action::Download {
                    far_uid: uid.0,
                    flags: flags.to_maildir(),
                }),
                Step::Upload { near_id, flags } => self.actions.push(Action::Upload {
                    near_id: near_id.0.clone(),
                    flags: flags.to_maildir(),
                }),
                Step::SyncFlags {
                    uid,
                    near_id,
                    far,
                    near,
                    ..
                } => {
                    if let Some(FlagChange { add, remove }) = far {
                        self.actions.push(Action::FlagsToFar {
                            far_uid: uid.0,
                            near_id: near_id.0.clone(),
                            add: add.to_maildir(),
                            remove: remove.to_maildir(),
                        });
                    }
                    if let Some(FlagChange { add, remove }) = near {
                        self.actions.push(Action::FlagsToNear {
                            far_uid: uid.0,
                            near_id: near_id.0.clone(),
                            add: add.to_maildir(),
                            remove: remove.to_maildir(),
                        });
                    }
                }
                Step::DeleteFar { uid, near_id, .. } => self.actions.push(Action::DeleteFar {
                    far_uid: uid.0,
                    near_id: near_id.as_ref().map(|n| n.0.clone()),
                }),
                Step::DeleteNear { uid, near_id, .. } => self.actions.push(Action::DeleteNear {
                    far_uid: uid.map(|u| u.0),
                    near_id: near_id.0.clone(),
                }),
            }
        }
        self.actions.sort_by_key(action_key);
    }

    /// Counts the actions of plan steps without keeping them (a run without `--json` needs
    /// only the counts); [`FolderReport::add_steps`] counts through here too.
    pub fn count_steps<'a>(&mut self, steps: impl IntoIterator<Item = &'a Step>) {
        for step in steps {
            match step {
                Step::Pair { .. }
                | Step::Forget { .. }
                | Step::ForgetUpload { .. }
                | Step::SetBase { .. } => {}
                Step::Download { .. } => self.download += 1,
                Step::Upload { .. } => self.upload += 1,
                Step::SyncFlags { far, near, .. } => {
                    self.flags_to_far += u64::from(far.is_some());
                    self.flags_to_near += u64::from(near.is_some());
                }
                Step::DeleteFar { .. } => self.delete_far += 1,
                Step::DeleteNear { .. } => self.delete_near += 1,
            }
        }
    }

    /// True when the folder changed (or would change) or did not finish.
    pub fn is_notable(&self) -> bool {
        self.status != Status::Ok
            || self.create.is_some()
            || self.download
                + self.upload
                + self.flags_to_far
                + self.flags_to_near
                + self.delete_far
                + self.delete_near
                > 0
    }
}

/// Sort key: the op in SPEC order, then the far UID, then the near id.
fn action_key(action: &Action) -> (u8, u32, String) {
    match action {
        Action::Download { far_uid, .. } => (0, *far_uid, String::new()),
        Action::Upload { near_id, .. } => (1, 0, near_id.clone()),
        Action::FlagsToFar { far_uid, .. } => (2, *far_uid, String::new()),
        Action::FlagsToNear { far_uid, .. } => (3, *far_uid, String::new()),
        Action::DeleteFar { far_uid, .. } => (4, *far_uid, String::new()),
        Action::DeleteNear { far_uid, near_id } => (5, far_uid.unwrap_or(0), near_id.clone()),
    }
}

impl Report {
    pub fn new(dry_run: bool, mut channels: Vec<ChannelReport>) -> Report {
        channels.sort_by(|a, b| a.channel.cmp(&b.channel));
        let mut totals = Totals::default();
        for channel in &mut channels {
            channel.folders.sort_by(|a, b| a.far.cmp(&b.far));
            for folder in &channel.folders {
                totals.download += folder.download;
                totals.upload += folder.upload;
                totals.flags_to_far += folder.flags_to_far;
                totals.flags_to_near += folder.flags_to_near;
                totals.delete_far += folder.delete_far;
                totals.delete_near += folder.delete_near;
                if folder.status == Status::Error {
                    totals.errors += 1;
                }
            }
        }
        Report {
            dry_run,
            channels,
            totals,
        }
    }

    /// The human summary: one line per folder that changed (or failed, or was skipped),
    /// then a totals line.
    pub fn human(&self, elapsed_secs: f64) -> String {
        let mut out = String::new();
        let would = if self.dry_run { "would " } else { "" };
        let mut folders = 0;
        for channel in &self.channels {
            for folder in &channel.folders {
                folders += 1;
                if !folder.is_notable() {
                    continue;
                }
                let _ = write!(out, "{}: {}:", channel.channel, folder.far);
                match folder.status {
                    Status::Error => {
                        let _ = write!(out, " FAILED: {}", folder.error.as_deref().unwrap_or("?"));
                    }
                    Status::Skipped => {
                        let _ = write!(out, " skipped: {}", folder.error.as_deref().unwrap_or("?"));
                    }
                    Status::Ok => {}
                }
                let mut parts = Vec::new();
                if let Some(side) = folder.create {
                    parts.push(format!(
                        "{would}create {}",
                        match side {
                            CreatedOn::Far => "far",
                            CreatedOn::Near => "near",
                        }
                    ));
                }
                for (n, what) in [
                    (folder.download, "down"),
                    (folder.upload, "up"),
                    (folder.flags_to_far, "flags to far"),
                    (folder.flags_to_near, "flags to near"),
                    (folder.delete_far, "deleted far"),
                    (folder.delete_near, "deleted near"),
                ] {
                    if n > 0 {
                        parts.push(format!("{n} {what}"));
                    }
                }
                if !parts.is_empty() {
                    let _ = write!(out, " {}", parts.join(", "));
                }
                out.push('\n');
            }
        }
        let t = &self.totals;
        let _ = writeln!(
            out,
            "{}{} folders: {} down, {} up, {} flags to far, {} flags to near, {} deleted far, {} deleted near, {} errors ({elapsed_secs:.1} s)",
            if self.dry_run {
                "dry run, nothing changed: "
            } else {
                ""
            },
            folders,
            t.download,
            t.upload,
            t.flags_to_far,
            t.flags_to_near,
            t.delete_far,
            t.delete_near,
            t.errors
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::Flags;
    use crate::model::{FarUid, NearId};
    use crate::plan::DeleteReason;

    #[test]
    fn json_has_the_shape_of_spec_section_5() {
        let mut folder = FolderReport::new("INBOX", "INBOX");
        folder.add_steps(&[
            Step::Download {
                uid: FarUid(42),
                flags: Flags::SEEN,
                size: 10,
            },
            Step::Upload {
                near_id: NearId("1700000000.M1P2.host".into()),
                flags: Flags::SEEN.union(Flags::FLAGGED),
            },
            Step::SyncFlags {
                uid: FarUid(7),
                near_id: NearId("n7".into()),
                far: None,
                near: Some(FlagChange {
                    add: Flags::SEEN,
                    remove: Flags::EMPTY,
                }),
                base: Flags::SEEN,
            },
            Step::DeleteNear {
                uid: Some(FarUid(9)),
                near_id: NearId("n9".into()),
                reason: DeleteReason::Propagated,
                forget: true,
            },
            Step::Pair {
                uid: FarUid(1),
                near_id: NearId("p".into()),
                flags: Flags::EMPTY,
            },
        ]);
        let report = Report::new(
            false,
            vec![ChannelReport {
                channel: "personal".into(),
                folders: vec![folder],
            }],
        );
        let json: serde_json::Value = serde_json::to_value(&report).unwrap();
        let expected = serde_json::json!({
          "dry_run": false,
          "channels": [{
            "channel": "personal",
            "folders": [{
              "far": "INBOX", "near": "INBOX", "status": "ok", "error": null, "create": null,
              "download": 1, "upload": 1, "flags_to_far": 0, "flags_to_near": 1,
              "delete_far": 0, "delete_near": 1,
              "actions": [
                {"op": "download", "far_uid": 42, "flags": "S"},
                {"op": "upload", "near_id": "1700000000.M1P2.host", "flags": "FS"},
                {"op": "flags_to_near", "far_uid": 7, "near_id": "n7", "add": "S", "remove": ""},
                {"op": "delete_near", "far_uid": 9, "near_id": "n9"}
              ]
            }]
          }],
          "totals": {"download": 1, "upload": 1, "flags_to_far": 0, "flags_to_near": 1,
                     "delete_far": 0, "delete_near": 1, "errors": 0}
        });
        assert_eq!(json, expected);
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn counting_steps_gives_the_counts_of_adding_them() {
        let change = Some(FlagChange {
            add: Flags::SEEN,
            remove: Flags::EMPTY,
        });
        let steps = [
            Step::Download {
                uid: FarUid(1),
                flags: Flags::EMPTY,
                size: 1,
            },
            Step::Download {
                uid: FarUid(2),
                flags: Flags::SEEN,
                size: 1,
            },
            Step::Upload {
                near_id: NearId("u".into()),
                flags: Flags::EMPTY,
            },
            Step::SyncFlags {
                uid: FarUid(3),
                near_id: NearId("a".into()),
                far: change,
                near: change,
                base: Flags::SEEN,
            },
            Step::SyncFlags {
                uid: FarUid(4),
                near_id: NearId("b".into()),
                far: None,
                near: change,
                base: Flags::SEEN,
            },
            Step::DeleteFar {
                uid: FarUid(5),
                near_id: None,
                reason: DeleteReason::Propagated,
                forget: true,
            },
            Step::DeleteNear {
                uid: None,
                near_id: NearId("c".into()),
                reason: DeleteReason::Propagated,
                forget: true,
            },
            Step::Forget { uid: FarUid(6) },
        ];
        let mut added = FolderReport::new("INBOX", "INBOX");
        added.add_steps(&steps);
        let mut counted = FolderReport::new("INBOX", "INBOX");
        counted.count_steps(&steps);
        assert!(counted.actions.is_empty());
        added.actions.clear();
        assert_eq!(counted, added);
        assert_eq!((counted.download, counted.flags_to_near), (2, 2));
        assert!(counted.is_notable());
    }

    #[test]
    fn human_summary_names_changed_and_failed_folders_only() {
        let mut changed = FolderReport::new("Archive/2021", "Archive/2021");
        changed.add_steps(&[Step::Download {
            uid: FarUid(1),
            flags: Flags::EMPTY,
            size: 1,
        }]);
        let report = Report::new(
            false,
            vec![ChannelReport {
                channel: "c".into(),
                folders: vec![
                    changed,
                    FolderReport::new("INBOX", "INBOX"),
                    FolderReport::failed("Junk", "Junk", "boom".into()),
                ],
            }],
        );
        let text = report.human(1.0);
        assert!(text.contains("c: Archive/2021: 1 down\n"), "{text}");
        assert!(text.contains("c: Junk: FAILED: boom"), "{text}");
        assert!(!text.contains("INBOX"), "{text}");
        assert!(
            text.contains("3 folders: 1 down") && text.contains("1 errors"),
            "{text}"
        );
    }
}
