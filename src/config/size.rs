//! `max_size` values: a number of bytes, or a number with a binary (KiB, MiB, GiB) or
//! decimal (kB, MB, GB) unit.

/// Parses `50MiB`, `10KiB`, `1GiB`, `500kB`, `10MB`, `1GB`, `100B` or a bare number of
/// bytes. The error text says what is accepted.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let multiplier: u64 = match unit {
        "" | "B" => 1,
        "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(format!("{s:?} is not a size")),
    };
    if number.is_empty() {
        return Err(format!("{s:?} is not a size"));
    }
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_units() {
        assert_eq!(parse_size("50MiB"), Ok(50 * 1024 * 1024));
        assert_eq!(parse_size("10KiB"), Ok(10 * 1024));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("500kB"), Ok(500_000));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("100B"), Ok(100));
        assert_eq!(parse_size("12345"), Ok(12345));
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "MiB",
            "50 MiB",
            "50mib",
            "50KB",
            "50kb",
            "50M",
            "1.5MiB",
            "-1",
            "+5",
            "5MiBs",
            "0x10",
            "99999999999999999999",
            "20000000000GiB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }
}
