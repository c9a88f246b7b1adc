//! `mailferry man` and `mailferry completions SHELL`: generated from the one clap
//! definition; the copies checked in under `man/` and `completions/` are tested for
//! freshness.

use crate::cli::Cli;
use clap::CommandFactory;

/// The completion script for a shell.
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "mailferry", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The man page, in roff.
pub fn man_page() -> std::io::Result<String> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The checked-in generated files: (path relative to the repo, contents).
pub fn generated_files() -> std::io::Result<Vec<(String, String)>> {
    let mut files = vec![("man/mailferry.1".to_string(), man_page()?)];
    for (shell, name) in [
        (clap_complete::Shell::Bash, "mailferry.bash"),
        (clap_complete::Shell::Zsh, "_mailferry"),
        (clap_complete::Shell::Fish, "mailferry.fish"),
        (clap_complete::Shell::Elvish, "mailferry.elv"),
        (clap_complete::Shell::PowerShell, "_mailferry.ps1"),
    ] {
        files.push((format!("completions/{name}"), completions(shell)));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in man page and completions match the clap definition. To refresh:
    /// `MAILFERRY_REGENERATE=1 cargo test --lib generated_files_are_fresh`.
    #[test]
    fn generated_files_are_fresh() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let regenerate = std::env::var_os("MAILFERRY_REGENERATE").is_some();
        for (path, contents) in generated_files().unwrap() {
            let full = root.join(&path);
            if regenerate {
                std::fs::create_dir_all(full.parent().unwrap()).unwrap();
                std::fs::write(&full, &contents).unwrap();
            }
            let on_disk = std::fs::read_to_string(&full).unwrap_or_default();
            assert!(
                on_disk == contents,
                "{path} is stale; refresh it with: MAILFERRY_REGENERATE=1 cargo test --lib generated_files_are_fresh"
            );
        }
    }
}
