//! The mbsync config file as written: lines split into a keyword and its arguments
//! (double quotes, backslash escapes, `#` comments), grouped into sections that start with
//! a section keyword and end at an empty line, each item keeping its line number for
//! warnings. Pure: no I/O; what the items mean is `convert.rs`'s business.

use std::fmt;

/// The kinds of section an mbsyncrc can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionKind {
    ImapAccount,
    ImapStore,
    MaildirStore,
    Channel,
    Group,
}

impl SectionKind {
    /// The section kind a keyword opens, if it opens one.
    fn from_keyword(keyword: &str) -> Option<SectionKind> {
        const KINDS: [(&str, SectionKind); 5] = [
            ("IMAPAccount", SectionKind::ImapAccount),
            ("IMAPStore", SectionKind::ImapStore),
            ("MaildirStore", SectionKind::MaildirStore),
            ("Channel", SectionKind::Channel),
            ("Group", SectionKind::Group),
        ];
        KINDS
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(keyword))
            .map(|(_, kind)| *kind)
    }
}

impl fmt::Display for SectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SectionKind::ImapAccount => "IMAPAccount",
            SectionKind::ImapStore => "IMAPStore",
            SectionKind::MaildirStore => "MaildirStore",
            SectionKind::Channel => "Channel",
            SectionKind::Group => "Group",
        })
    }
}

/// One configuration line: a keyword and its arguments (quotes removed, escapes applied).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// 1-based line number.
    pub line: usize,
    /// The keyword as written (compare it case-insensitively).
    pub keyword: String,
    pub args: Vec<String>,
}

impl Item {
    /// Whether the keyword is `name`, in any case.
    pub fn is(&self, name: &str) -> bool {
        self.keyword.eq_ignore_ascii_case(name)
    }

    /// The arguments joined by single spaces (what a one-argument keyword means when the
    /// user forgot the quotes).
    pub fn joined(&self) -> String {
        self.args.join(" ")
    }
}

/// A section: the line that opens it and the items up to the next empty line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub kind: SectionKind,
    pub name: String,
    /// The opening line (its keyword, and any arguments after the name, e.g. a Group's
    /// channels).
    pub header: Item,
    pub items: Vec<Item>,
}

/// A parsed mbsyncrc: the global options (outside any section) and the sections, in file
/// order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rc {
    pub globals: Vec<Item>,
    pub sections: Vec<Section>,
}

/// A line that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}; {fix}")]
pub struct SyntaxError {
    pub line: usize,
    pub problem: String,
    pub fix: String,
}

/// Parses mbsyncrc text.
pub fn parse(text: &str) -> Result<Rc, SyntaxError> {
    let mut rc = Rc::default();
    let mut current: Option<Section> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            // An empty line ends the section.
            if let Some(section) = current.take() {
                rc.sections.push(section);
            }
            continue;
        }
        if trimmed.starts_with('#') {
            continue;
        }
        let mut words = split_words(trimmed, line)?;
        if words.is_empty() {
            continue;
        }
        let keyword = words.remove(0);
        let item = Item {
            line,
            keyword,
            args: words,
        };
        // Inside a Group, `Channel`/`Channels` lines name members, not a new Channel.
        let in_group = current
            .as_ref()
            .is_some_and(|s| s.kind == SectionKind::Group);
        let opens = if in_group && (item.is("Channel") || item.is("Channels")) {
            None
        } else {
            SectionKind::from_keyword(&item.keyword)
        };
        match opens {
            Some(kind) => {
                let Some(name) = item.args.first().cloned() else {
                    return Err(SyntaxError {
                        line,
                        problem: format!("{} has no name", item.keyword),
                        fix: format!("write `{kind} NAME`"),
                    });
                };
                if let Some(section) = current.take() {
                    rc.sections.push(section);
                }
                current = Some(Section {
                    kind,
                    name,
                    header: item,
                    items: Vec::new(),
                });
            }
            None => match current.as_mut() {
                Some(section) => section.items.push(item),
                None => rc.globals.push(item),
            },
        }
    }
    if let Some(section) = current.take() {
        rc.sections.push(section);
    }
    Ok(rc)
}

/// Splits a line into words: runs of non-blanks, or double-quoted strings in which `\"`
/// and `\\` stand for `"` and `\`. A `#` starting a word outside quotes starts a comment.
fn split_words(line: &str, number: usize) -> Result<Vec<String>, SyntaxError> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        if first == '#' {
            break;
        }
        let mut word = String::new();
        let mut quoted = false;
        while let Some(&c) = chars.peek() {
            if !quoted && c.is_whitespace() {
                break;
            }
            chars.next();
            match c {
                '"' => quoted = !quoted,
                '\\' => match chars.next() {
                    Some(escaped) => word.push(escaped),
                    None => {
                        return Err(SyntaxError {
                            line: number,
                            problem: "the line ends with a lone backslash".to_string(),
                            fix: "write \\\\ for a backslash".to_string(),
                        });
                    }
                },
                c => word.push(c),
            }
        }
        if quoted {
            return Err(SyntaxError {
                line: number,
                problem: "a double quote is not closed".to_string(),
                fix: "close the quoted argument with \", and write \\\" for a literal quote"
                    .to_string(),
            });
        }
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_quotes_escapes_and_comments() {
        assert_eq!(
            split_words(r#"PassCmd "pass show \"mail\" \\ x"  # comment"#, 1).unwrap(),
            vec!["PassCmd", r#"pass show "mail" \ x"#]
        );
        assert_eq!(
            split_words("Patterns * !Trash \"Sent Mail\"", 1).unwrap(),
            vec!["Patterns", "*", "!Trash", "Sent Mail"]
        );
        assert_eq!(
            split_words("Path a\"b c\"d", 1).unwrap(),
            vec!["Path", "ab cd"]
        );
        let err = split_words("Pass \"open", 7).unwrap_err();
        assert_eq!(err.line, 7);
        assert!(err.problem.contains("not closed"), "{err}");
    }

    #[test]
    fn sections_end_at_empty_lines_and_globals_stay_outside() {
        let text = "# my config\nSync All\n\nimapaccount acct\nHost h\n  # inside\nUser u\n\nExpunge Both\nChannel c\nFar :far:\nNear :near:\nGroup g\nChannel c\nChannels d e\n";
        let rc = parse(text).unwrap();
        let globals: Vec<(usize, &str)> = rc
            .globals
            .iter()
            .map(|i| (i.line, i.keyword.as_str()))
            .collect();
        assert_eq!(globals, vec![(2, "Sync"), (9, "Expunge")]);
        assert_eq!(rc.sections.len(), 3);
        let account = &rc.sections[0];
        assert_eq!(account.kind, SectionKind::ImapAccount);
        assert_eq!(account.name, "acct");
        assert_eq!(account.header.line, 4);
        let lines: Vec<usize> = account.items.iter().map(|i| i.line).collect();
        assert_eq!(lines, vec![5, 7]);
        assert_eq!(rc.sections[1].kind, SectionKind::Channel);
        assert_eq!(rc.sections[1].items.len(), 2);
        let group = &rc.sections[2];
        assert_eq!(group.kind, SectionKind::Group);
        assert_eq!(group.items.len(), 2, "Channel lines in a Group are members");
        assert_eq!(group.items[1].args, vec!["d", "e"]);
    }

    #[test]
    fn a_section_without_a_name_is_an_error_naming_the_line() {
        let err = parse("\n\nIMAPStore\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.to_string().contains("IMAPStore NAME"), "{err}");
    }
}
