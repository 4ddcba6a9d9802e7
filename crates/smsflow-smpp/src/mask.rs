//! Masking of phone numbers for log lines: `+447700900123` → `+44*******23`.
//! Message bodies are never logged at all.

/// Masks an address: keeps an optional `+`, the first two and the last two characters.
/// Short values (five characters or fewer) are masked completely.
pub fn mask_address(address: &str) -> String {
    let (plus, rest) = match address.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", address),
    };
    let chars: Vec<char> = rest.chars().collect();
    if chars.len() <= 5 {
        return format!("{plus}{}", "*".repeat(chars.len()));
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{plus}{head}{}{tail}", "*".repeat(chars.len() - 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_numbers() {
        assert_eq!(mask_address("+447700900112"), "+44********12");
        assert_eq!(mask_address("447700900112"), "44********12");
        assert_eq!(mask_address("ACME"), "****");
        assert_eq!(mask_address(""), "");
    }
}
