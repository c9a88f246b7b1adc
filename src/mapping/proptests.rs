//! Property tests of the folder-name parsers: server names (modified UTF-7), folder
//! patterns from the config, and the near path made from any display name. Names come
//! from the server and the user, so each must take any string without panicking.

use super::*;
use proptest::prelude::*;

/// Any string, with the characters modified UTF-7 cares about made likely.
fn mutf7_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[&\\-A-Za-z0-9+,/ ]{0,24}",
        "(&[A-Za-z0-9+,]{0,8}-?|[a-z &])*",
        // A valid spelling with one byte changed: near misses.
        (
            any::<String>(),
            any::<prop::sample::Index>(),
            "[&\\-A-Za-z0-9+,]"
        )
            .prop_map(|(s, at, c)| {
                let mut bytes = encode_mutf7(&s).into_bytes();
                if !bytes.is_empty() {
                    let i = at.index(bytes.len());
                    bytes[i] = c.as_bytes()[0];
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }),
    ]
}

/// Any folder name, with the characters that matter to paths made likely.
fn name_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a./&é\\x00\\n]{0,16}",
        "((\\.|\\.\\.|INBOX|inbox|cur|New|tmp|a\\.b|é|&|x{0,300})/?){0,4}",
    ]
}

/// Any pattern, with the wildcards made likely.
fn pattern_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "!?[ab/*%!]{0,8}",
        "!?(INBOX|inbox)(/[a*%])?"
    ]
}

fn layouts() -> impl Strategy<Value = (Layout, FolderNames)> {
    (
        prop_oneof![Just(Layout::Verbatim), Just(Layout::MaildirPlusPlus)],
        prop_oneof![Just(FolderNames::Utf8), Just(FolderNames::Imap)],
    )
}

fn compile(patterns: &[&str]) -> Patterns {
    let owned: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
    Patterns::new(&owned).expect("valid patterns")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Encoding gives printable ASCII that decodes back to the input, for any string.
    #[test]
    fn mutf7_round_trips_any_string(s in mutf7_like()) {
        let encoded = encode_mutf7(&s);
        prop_assert!(encoded.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{:?}", encoded);
        prop_assert_eq!(decode_mutf7(&encoded), Ok(s));
    }

    /// Decoding takes any input without panicking and accepts only the one canonical
    /// spelling of each name: what it accepts, encoding gives back unchanged.
    #[test]
    fn mutf7_decodes_only_canonical_spellings(s in mutf7_like()) {
        if let Ok(decoded) = decode_mutf7(&s) {
            prop_assert_eq!(encode_mutf7(&decoded), s);
        }
    }

    /// Compiling and matching take any patterns and names; only an empty pattern or a
    /// lone `!` is refused.
    #[test]
    fn patterns_take_anything(
        patterns in proptest::collection::vec(pattern_like(), 0..4),
        name in name_like(),
    ) {
        let bad = patterns.iter().any(|p| p.is_empty() || p == "!");
        match Patterns::new(&patterns) {
            Ok(compiled) => {
                prop_assert!(!bad);
                prop_assert_eq!(compiled.as_slice(), patterns.as_slice());
                let _ = compiled.matches(&name);
            }
            Err(e) => {
                prop_assert!(bad, "{}", e);
                prop_assert!(
                    matches!(e, MappingError::BadPattern { .. }),
                    "{:?}",
                    e
                );
            }
        }
    }

    /// `*` matches every name.
    #[test]
    fn star_matches_everything(name in name_like()) {
        prop_assert!(compile(&["*"]).matches(&name));
    }

    /// A last `!X` excludes X, whatever comes before it; and X is its own pattern (its
    /// wildcards match themselves), unless it starts with `!` and so reads as `!X`.
    #[test]
    fn a_last_exclusion_excludes(
        patterns in proptest::collection::vec(pattern_like(), 0..4),
        x in name_like().prop_filter("non-empty", |x| !x.is_empty()),
    ) {
        let mut all: Vec<String> = patterns
            .into_iter()
            .filter(|p| !p.is_empty() && p != "!")
            .collect();
        if !x.starts_with('!') {
            all.push(x.clone());
            let included = Patterns::new(&all).expect("valid patterns");
            prop_assert!(included.matches(&x));
        }
        all.push(format!("!{x}"));
        let excluded = Patterns::new(&all).expect("valid patterns");
        prop_assert!(!excluded.matches(&x));
    }

    /// `%` never matches across `/`: alone it matches exactly the names without one, and
    /// a pattern without `*` matches only names with as many `/` as it has.
    #[test]
    fn percent_stays_within_one_level(
        pattern in "[ab/%]{1,8}",
        name in prop_oneof![name_like(), "[ab/%]{0,8}"],
    ) {
        prop_assert_eq!(compile(&["%"]).matches(&name), !name.contains('/'));
        if compile(&[pattern.as_str()]).matches(&name) {
            prop_assert_eq!(
                pattern.matches('/').count(),
                name.matches('/').count(),
                "{:?} matched {:?}",
                pattern,
                name
            );
        }
    }

    /// Whatever the display name, a near path is relative, made of normal components
    /// (never `..`) no longer than a directory entry may be, and reads back as the name.
    #[test]
    fn near_paths_stay_below_the_root(name in name_like(), (layout, names) in layouts()) {
        let Ok(path) = near_rel_path(&name, layout, names) else {
            return Ok(());
        };
        prop_assert!(path.is_relative(), "{:?}", path);
        for c in path.components() {
            let Component::Normal(part) = c else {
                return Err(TestCaseError::fail(format!("{path:?} has {c:?}")));
            };
            prop_assert!(part != "..");
            prop_assert!(part.len() <= MAX_COMPONENT_BYTES);
        }
        prop_assert!(!path.to_string_lossy().split('/').any(|c| c == ".."));
        let back = display_from_near(&path, layout, names);
        let expected = if name.eq_ignore_ascii_case(INBOX) { INBOX.to_string() } else { name };
        prop_assert_eq!(back, Ok(expected));
    }
}
