//! Finding the folders of a maildir tree, in the verbatim and maildir++ layouts.

use super::{annotate, is_folder_dir};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Nesting deeper than this is reported and not walked (a guard against bind-mount loops).
const MAX_DEPTH: usize = 64;

/// The maildir's own subdirectories, never folders themselves.
const MAILDIR_SUBDIRS: [&str; 3] = ["cur", "new", "tmp"];

/// Lists the folder directories of a maildir tree, as sorted paths relative to `root`.
///
/// verbatim: every directory below `root` (recursively, not following symlinks, skipping
/// names starting with `.`) that has `cur/`, `new/` and `tmp/`; a folder's own
/// `cur`/`new`/`tmp` are not descended into. maildir++: `root` itself (the empty path)
/// when it is a folder, plus each direct child directory named `.<something>` that is a
/// folder. Non-UTF-8 directory names are skipped and reported in the warnings. A missing
/// `root` gives an empty list; any other error reading the tree is returned (a folder
/// silently missing from the list could look like a deleted folder).
pub fn list_folder_dirs(
    root: &Path,
    maildir_plus_plus: bool,
) -> io::Result<(Vec<PathBuf>, Vec<String>)> {
    let mut folders = Vec::new();
    let mut warnings = Vec::new();
    match fs::metadata(root) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((folders, warnings)),
        Err(e) => return Err(annotate(e, "cannot read maildir root", root)),
    }
    if maildir_plus_plus {
        list_plus_plus(root, &mut folders, &mut warnings)?;
    } else {
        walk_verbatim(root, Path::new(""), 0, &mut folders, &mut warnings)?;
    }
    folders.sort();
    Ok((folders, warnings))
}

/// The subdirectories of `dir` (not following symlinks) with UTF-8 names, sorted; other
/// names are reported. `None` when `dir` vanished meanwhile.
fn subdirs(dir: &Path, warnings: &mut Vec<String>) -> io::Result<Option<Vec<String>>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(annotate(e, "cannot list directory", dir)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| annotate(e, "cannot list directory", dir))?;
        let file_type = entry
            .file_type()
            .map_err(|e| annotate(e, "cannot stat", &entry.path()))?;
        if !file_type.is_dir() {
            continue;
        }
        match entry.file_name().into_string() {
            Ok(name) => names.push(name),
            Err(raw) => warnings.push(format!(
                "skipping directory with a non-UTF-8 name: {}",
                dir.join(raw).display()
            )),
        }
    }
    names.sort();
    Ok(Some(names))
}

fn walk_verbatim(
    root: &Path,
    rel: &Path,
    depth: usize,
    folders: &mut Vec<PathBuf>,
    warnings: &mut Vec<String>,
) -> io::Result<()> {
    let abs = root.join(rel);
    let is_folder = is_folder_dir(&abs);
    let Some(names) = subdirs(&abs, warnings)? else {
        return Ok(());
    };
    for name in names {
        if name.starts_with('.') || (is_folder && MAILDIR_SUBDIRS.contains(&name.as_str())) {
            continue;
        }
        let child = rel.join(&name);
        if is_folder_dir(&root.join(&child)) {
            folders.push(child.clone());
        }
        if depth + 1 >= MAX_DEPTH {
            warnings.push(format!(
                "not looking for folders below {} (nested more than {MAX_DEPTH} deep)",
                root.join(&child).display()
            ));
            continue;
        }
        walk_verbatim(root, &child, depth + 1, folders, warnings)?;
    }
    Ok(())
}

fn list_plus_plus(
    root: &Path,
    folders: &mut Vec<PathBuf>,
    warnings: &mut Vec<String>,
) -> io::Result<()> {
    if is_folder_dir(root) {
        folders.push(PathBuf::new());
    }
    let Some(names) = subdirs(root, warnings)? else {
        return Ok(());
    };
    for name in names {
        if name.len() > 1
            && name.starts_with('.')
            && name != ".."
            && is_folder_dir(&root.join(&name))
        {
            folders.push(PathBuf::from(name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    fn folder(root: &Path, rel: &str) {
        for sub in MAILDIR_SUBDIRS {
            fs::create_dir_all(root.join(rel).join(sub)).unwrap();
        }
    }

    fn paths(list: &[&str]) -> Vec<PathBuf> {
        list.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn verbatim_finds_nested_folders_and_skips_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        folder(root, "INBOX");
        folder(root, "Archive");
        folder(root, "Archive/2021");
        folder(root, "Lists/rust"); // "Lists" itself is not a folder
        folder(root, ".notmuch"); // dot directories are not folders
        folder(root, "Archive/.hidden");
        fs::create_dir_all(root.join("Half/cur")).unwrap(); // cur/ only: not a folder
        fs::write(root.join("notes.txt"), "x").unwrap();
        fs::write(root.join("INBOX/cur/1.host:2,S"), "x").unwrap();
        // A symlink to a folder is not followed.
        std::os::unix::fs::symlink(root.join("INBOX"), root.join("Linked")).unwrap();
        // A folder's own cur/ is never taken for a folder, even if it looks like one.
        folder(root, "INBOX/cur");
        let bad = std::ffi::OsStr::from_bytes(b"bad\xff");
        folder(root, "");
        fs::create_dir(root.join(bad)).unwrap();

        let (found, warnings) = list_folder_dirs(root, false).unwrap();
        assert_eq!(
            found,
            paths(&["Archive", "Archive/2021", "INBOX", "Lists/rust"])
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("non-UTF-8"), "{warnings:?}");
    }

    #[test]
    fn maildir_plus_plus_is_the_root_and_its_dot_children() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        folder(root, "");
        folder(root, ".Archive");
        folder(root, ".Archive.2021");
        folder(root, "plain"); // not a dot name
        fs::create_dir(root.join(".notafolder")).unwrap();
        fs::write(root.join(".Sent"), "a file, not a folder").unwrap();

        let (found, warnings) = list_folder_dirs(root, true).unwrap();
        assert_eq!(found, paths(&["", ".Archive", ".Archive.2021"]));
        assert!(warnings.is_empty());

        let bare = tempfile::tempdir().unwrap();
        folder(bare.path(), ".Only");
        let (found, _) = list_folder_dirs(bare.path(), true).unwrap();
        assert_eq!(found, paths(&[".Only"]));
    }

    #[test]
    fn missing_root_is_an_empty_list() {
        let tmp = tempfile::tempdir().unwrap();
        for plus_plus in [false, true] {
            let (found, warnings) = list_folder_dirs(&tmp.path().join("nope"), plus_plus).unwrap();
            assert!(found.is_empty() && warnings.is_empty());
        }
    }
}
