//! Property tests of maildir file-name parsing: names come from whatever a mail client
//! (or anyone) left in `cur/` and `new/`, so parsing must take any string.

use super::*;
use proptest::prelude::*;

/// Any string, with the characters that matter to the parser made likely.
fn name_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9.:,2/\\x00é]{0,24}",
        ("[^:]{0,12}", "[0-9]?", "[,]?", "[A-Za-z:,]{0,8}")
            .prop_map(|(id, v, comma, letters)| format!("{id}:{v}{comma}{letters}")),
    ]
}

/// A valid unique name: non-empty, no `/`, `:` or NUL, not starting with `.`.
fn valid_id() -> impl Strategy<Value = String> {
    "[^./:\\x00][^/:\\x00]{0,30}"
}

fn flags() -> impl Strategy<Value = Flags> {
    any::<u8>().prop_map(Flags::from_bits)
}

/// The characters of a string, as a sorted set.
fn char_set(s: &str) -> std::collections::BTreeSet<char> {
    s.chars().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any file name splits into an id (a prefix without `:`) and letters (a suffix),
    /// and its letters parse as flags, without panicking.
    #[test]
    fn any_name_parses(name in name_like()) {
        let id = id_of(&name);
        let letters = letters_of(&name);
        prop_assert!(name.starts_with(id));
        prop_assert!(!id.contains(':'));
        prop_assert!(name.ends_with(letters));
        let flags = Flags::from_maildir(letters);
        prop_assert_eq!(flags, Flags::from_maildir(&flags.to_maildir()));
        if !name.contains(':') {
            prop_assert_eq!(id, name.as_str());
            prop_assert_eq!(letters, "");
        }
    }

    /// `check_id` accepts exactly the names that are a plain unique name.
    #[test]
    fn check_id_accepts_exactly_plain_unique_names(id in name_like()) {
        let plain = !id.is_empty()
            && !id.contains(['/', ':', '\0'])
            && !id.starts_with('.');
        prop_assert_eq!(check_id(&NearId(id.clone())).is_ok(), plain, "{:?}", id);
        if plain {
            prop_assert_eq!(id_of(&id), id.as_str());
        }
    }

    /// A name made for a valid id and flags reads back as that id and those flags; the
    /// letters mailferry does not sync are kept, each once, all in ASCII order.
    #[test]
    fn cur_names_round_trip_and_keep_unknown_letters(
        id in valid_id(),
        flags in flags(),
        old in prop_oneof!["[A-Za-z]{0,8}", any::<String>()],
        next in flags(),
    ) {
        prop_assert!(check_id(&NearId(id.clone())).is_ok());
        let name = cur_name(&id, flags, &old);
        prop_assert_eq!(id_of(&name), id.as_str());
        let letters = letters_of(&name);
        prop_assert_eq!(Flags::from_maildir(letters), flags);
        let unknown: std::collections::BTreeSet<char> =
            old.chars().filter(|c| !SYNCED_LETTERS.contains(*c)).collect();
        let mut expected = char_set(&flags.to_maildir());
        expected.extend(&unknown);
        prop_assert_eq!(char_set(letters), expected);
        let chars: Vec<char> = letters.chars().collect();
        prop_assert!(chars.windows(2).all(|w| w[0] < w[1]), "{:?}", letters);

        // Changing the flags again (a rename) keeps the unknown letters.
        let renamed = cur_name(&id, next, letters);
        prop_assert_eq!(id_of(&renamed), id.as_str());
        prop_assert_eq!(Flags::from_maildir(letters_of(&renamed)), next);
        let kept: std::collections::BTreeSet<char> = letters_of(&renamed)
            .chars()
            .filter(|c| !SYNCED_LETTERS.contains(*c))
            .collect();
        prop_assert_eq!(kept, unknown);
    }
}
