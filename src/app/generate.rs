//! `mailferry man` and `mailferry completions SHELL`: generated from the one clap
//! definition; the copies checked in under `man/` and `completions/` are tested for
//! freshness.

use super::man_sections;
use crate::cli::Cli;
use clap::CommandFactory;

/// The completion script for a shell.
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "mailferry", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The man page, in roff: clap_mangen's title, name, synopsis, description and options,
/// then the commands with their own options (from the same clap definition), then the
/// sections written here: configuration, folder mapping, sync semantics, exit status,
/// environment, files.
pub fn man_page() -> std::io::Result<String> {
    let command = Cli::command();
    let man = clap_mangen::Man::new(command.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    let mut page = String::from_utf8_lossy(&out).into_owned();
    page.push_str(&commands_section(&command));
    page.push_str(&man_sections::SECTIONS.concat());
    let mut version = Vec::new();
    man.render_version_section(&mut version)?;
    page.push_str(&String::from_utf8_lossy(&version));
    Ok(page)
}

/// Escapes text for roff: backslashes, hyphens, and a leading `.` or `'`.
fn roff_escape(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// COMMANDS: each subcommand's usage, what it does, and its options and arguments; a
/// subcommand with subcommands of its own (`import mbsync`) is listed by those.
fn commands_section(command: &clap::Command) -> String {
    let mut out = String::from(".SH COMMANDS\n");
    for sub in command.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let children: Vec<&clap::Command> = sub
            .get_subcommands()
            .filter(|c| c.get_name() != "help")
            .collect();
        if children.is_empty() {
            command_entry(&mut out, sub.get_name(), sub);
        }
        for child in children {
            command_entry(
                &mut out,
                &format!("{} {}", sub.get_name(), child.get_name()),
                child,
            );
        }
    }
    out
}

/// One command of the COMMANDS section, named `name`.
fn command_entry(out: &mut String, name: &str, sub: &clap::Command) {
    let mut usage = format!("\\fB{}\\fR", roff_escape(name));
    let mut options = String::new();
    for arg in sub.get_arguments() {
        if arg.is_hide_set() || matches!(arg.get_id().as_str(), "help" | "version") {
            continue;
        }
        let value = arg
            .get_value_names()
            .and_then(|names| names.first())
            .map(|name| name.to_string())
            .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
        let tag = if arg.is_positional() {
            format!("\\fI{}\\fR", roff_escape(&value))
        } else {
            let mut names = Vec::new();
            if let Some(short) = arg.get_short() {
                names.push(format!("\\fB\\-{short}\\fR"));
            }
            if let Some(long) = arg.get_long() {
                names.push(format!("\\fB\\-\\-{}\\fR", roff_escape(long)));
            }
            let mut tag = names.join(", ");
            if arg.get_action().takes_values() {
                tag.push_str(&format!(" \\fI{}\\fR", roff_escape(&value)));
            }
            tag
        };
        if arg.is_required_set() {
            usage.push_str(&format!(" {tag}"));
        } else {
            usage.push_str(&format!(" [{tag}]"));
        }
        if arg.is_positional()
            && matches!(arg.get_num_args(), Some(range) if range.max_values() > 1)
        {
            usage.push_str("...");
        }
        let help = arg
            .get_long_help()
            .or_else(|| arg.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        options.push_str(&format!(".TP\n{tag}\n{}\n", roff_escape(&help)));
    }
    let about = sub
        .get_long_about()
        .or_else(|| sub.get_about())
        .map(|a| a.to_string())
        .unwrap_or_default();
    out.push_str(&format!(".TP\n{usage}\n{}\n", roff_escape(&about)));
    if !options.is_empty() {
        out.push_str(".RS\n");
        out.push_str(&options);
        out.push_str(".RE\n");
    }
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

    /// groff formats the man page without a single warning.
    #[test]
    fn the_man_page_formats_without_warnings() {
        use std::io::Write as _;
        let page = man_page().unwrap();
        let mut groff = std::process::Command::new("groff")
            .args(["-man", "-Tutf8", "-ww"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("groff (Debian's groff-base) must be installed: scripts/ensure-deps");
        groff
            .stdin
            .take()
            .unwrap()
            .write_all(page.as_bytes())
            .unwrap();
        let out = groff.wait_with_output().unwrap();
        assert!(out.status.success(), "groff failed");
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(warnings.is_empty(), "groff warns:\n{warnings}");
        // Without the overstriking grotty uses for bold and underline ("C\bC").
        let mut text = String::new();
        for c in String::from_utf8_lossy(&out.stdout).chars() {
            if c == '\u{8}' {
                text.pop();
            } else {
                text.push(c);
            }
        }
        for heading in [
            "COMMANDS",
            "CONFIGURATION",
            "FOLDER MAPPING",
            "SYNC SEMANTICS",
            "IMPORTING FROM MBSYNC",
            "EXIT STATUS",
            "ENVIRONMENT",
            "FILES",
        ] {
            assert!(text.contains(heading), "no {heading} section");
        }
    }

    /// Every key of the full example config, every subcommand option and every exit
    /// code is documented in the man page.
    #[test]
    fn the_man_page_documents_every_key_option_and_exit_code() {
        let page = man_page().unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let example = std::fs::read_to_string(root.join("fixtures/config/good.toml")).unwrap();
        let mut keys = 0;
        for line in example.lines() {
            let line = line.trim();
            if line.starts_with('#') || line.starts_with('[') {
                continue;
            }
            if let Some((key, _)) = line.split_once('=') {
                let key = key.trim();
                assert!(
                    page.contains(&format!("\\fB{key}\\fR ("))
                        || page.contains(&format!("\\fB{key}\\fR,")),
                    "config key {key} is not documented with its default"
                );
                keys += 1;
            }
        }
        assert!(keys >= 20, "{keys} keys");
        for option in [
            "dry\\-run",
            "json",
            "pull",
            "push",
            "jobs",
            "force",
            "mbsyncrc",
            "write",
        ] {
            assert!(
                page.contains(&format!("\\fB\\-\\-{option}\\fR")),
                "--{option}"
            );
        }
        for code in ["0", "1", "2", "75"] {
            assert!(
                page.contains(&format!(".TP\n\\fB{code}\\fR\n")),
                "exit {code}"
            );
        }
        assert!(!page.contains("mailferry\\-sync(1)"), "no page of its own");
    }

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
