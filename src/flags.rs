//! The six flags mailferry syncs: a bitset, its IMAP and maildir spellings, and the
//! three-way merge (all pure).

use std::fmt;

/// A set of the synced flags. Bits follow maildir's alphabetical order of letters.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Flags(u8);

/// (bit, maildir letter, IMAP flag) for every synced flag, in maildir letter order.
const TABLE: [(u8, char, &str); 6] = [
    (1 << 0, 'D', "\\Draft"),
    (1 << 1, 'F', "\\Flagged"),
    (1 << 2, 'P', "$Forwarded"),
    (1 << 3, 'R', "\\Answered"),
    (1 << 4, 'S', "\\Seen"),
    (1 << 5, 'T', "\\Deleted"),
];

impl Flags {
    pub const EMPTY: Flags = Flags(0);
    pub const DRAFT: Flags = Flags(1 << 0);
    pub const FLAGGED: Flags = Flags(1 << 1);
    pub const FORWARDED: Flags = Flags(1 << 2);
    pub const ANSWERED: Flags = Flags(1 << 3);
    pub const SEEN: Flags = Flags(1 << 4);
    pub const DELETED: Flags = Flags(1 << 5);
    pub const ALL: Flags = Flags(0b11_1111);

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn from_bits(bits: u8) -> Flags {
        Flags(bits & Self::ALL.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    pub fn difference(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }

    /// Parses maildir letters (the part after `:2,`); letters mailferry does not sync are
    /// ignored here and kept in the file name by the maildir store.
    pub fn from_maildir(letters: &str) -> Flags {
        let mut bits = 0;
        for c in letters.chars() {
            if let Some((bit, _, _)) = TABLE.iter().find(|(_, l, _)| *l == c) {
                bits |= bit;
            }
        }
        Flags(bits)
    }

    /// The maildir letters, in the alphabetical order the maildir spec asks for.
    pub fn to_maildir(self) -> String {
        TABLE
            .iter()
            .filter(|(bit, _, _)| self.0 & bit != 0)
            .map(|(_, letter, _)| *letter)
            .collect()
    }

    /// Maps one IMAP flag or keyword (case-insensitively); `None` for ones not synced.
    pub fn from_imap_flag(flag: &str) -> Option<Flags> {
        TABLE
            .iter()
            .find(|(_, _, name)| name.eq_ignore_ascii_case(flag))
            .map(|(bit, _, _)| Flags(*bit))
    }

    /// The IMAP names of the flags in the set, e.g. `["\\Flagged", "\\Seen"]`.
    pub fn to_imap(self) -> Vec<&'static str> {
        TABLE
            .iter()
            .filter(|(bit, _, _)| self.0 & bit != 0)
            .map(|(_, _, name)| *name)
            .collect()
    }

    /// The IMAP names as a parenthesised list, e.g. `(\Flagged \Seen)`.
    pub fn to_imap_list(self) -> String {
        format!("({})", self.to_imap().join(" "))
    }

    /// Three-way merge against the flags last agreed: a change on either side wins.
    /// Where both sides changed a flag they changed it the same way (a bit can only flip).
    pub fn merge(base: Flags, far: Flags, near: Flags) -> Flags {
        Flags(base.0 ^ ((far.0 ^ base.0) | (near.0 ^ base.0)))
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_maildir())
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags({})", self.to_maildir())
    }
}

impl serde::Serialize for Flags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_maildir())
    }
}

impl<'de> serde::Deserialize<'de> for Flags {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if let Some(bad) = text.chars().find(|c| !"DFPRST".contains(*c)) {
            return Err(serde::de::Error::custom(format!(
                "unknown flag letter {bad:?}"
            )));
        }
        Ok(Flags::from_maildir(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maildir_letters_round_trip_in_alphabetical_order() {
        let flags = Flags::from_maildir("TSRPFD");
        assert_eq!(flags, Flags::ALL);
        assert_eq!(flags.to_maildir(), "DFPRST");
        assert_eq!(Flags::from_maildir("Sa").to_maildir(), "S");
    }

    #[test]
    fn imap_names_map_case_insensitively() {
        assert_eq!(Flags::from_imap_flag("\\seen"), Some(Flags::SEEN));
        assert_eq!(Flags::from_imap_flag("$forwarded"), Some(Flags::FORWARDED));
        assert_eq!(Flags::from_imap_flag("$Junk"), None);
        assert_eq!(
            Flags::SEEN.union(Flags::FLAGGED).to_imap_list(),
            "(\\Flagged \\Seen)"
        );
    }

    /// Walks every (base, far, near) combination of the six flags (64^3 cases) and checks
    /// the merge flag by flag: a flag changed on one side takes that side's value, a flag
    /// unchanged on both keeps the base value.
    #[test]
    fn three_way_merge_is_exhaustively_right() {
        for base in 0..64u8 {
            for far in 0..64u8 {
                for near in 0..64u8 {
                    let merged = Flags::merge(
                        Flags::from_bits(base),
                        Flags::from_bits(far),
                        Flags::from_bits(near),
                    )
                    .bits();
                    for bit in 0..6 {
                        let (b, f, n, m) = (
                            base >> bit & 1,
                            far >> bit & 1,
                            near >> bit & 1,
                            merged >> bit & 1,
                        );
                        let expected = if f != b {
                            f
                        } else if n != b {
                            n
                        } else {
                            b
                        };
                        assert_eq!(m, expected, "base {base:06b} far {far:06b} near {near:06b}");
                    }
                }
            }
        }
    }
}
