//! `application/x-www-form-urlencoded` parsing to raw bytes (Kannel's `text` may be
//! UTF-16BE or Latin-1 according to `charset`, so it cannot be forced into UTF-8 first).

/// Decodes `%XX` and `+`; malformed escapes are kept literally.
pub(crate) fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < input.len() => {
                let hex = std::str::from_utf8(&input[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// Encodes everything but RFC 3986 unreserved characters.
pub(crate) fn percent_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for b in input.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Parsed parameters; later occurrences do not override earlier ones.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, Vec<u8>)>);

impl Params {
    /// Adds the pairs of a query string or form body.
    pub(crate) fn extend_from(&mut self, raw: &[u8]) {
        for pair in raw.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let key = String::from_utf8_lossy(&percent_decode(k)).into_owned();
            self.0.push((key, percent_decode(v)));
        }
    }

    /// Raw bytes of the first `key`.
    pub(crate) fn bytes(&self, key: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }

    /// First `key` as (lossy) UTF-8.
    pub(crate) fn str(&self, key: &str) -> Option<String> {
        self.bytes(key)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parses_query() {
        let mut p = Params::default();
        p.extend_from(b"to=%2B4917&text=hello+world&text=second&flag&bad=%ZZ%4");
        assert_eq!(p.str("to").as_deref(), Some("+4917"));
        assert_eq!(p.str("text").as_deref(), Some("hello world"));
        assert_eq!(p.bytes("flag"), Some(&b""[..]));
        assert_eq!(p.str("bad").as_deref(), Some("%ZZ%4"));
        assert_eq!(p.bytes("none"), None);
    }

    #[test]
    fn raw_bytes_survive() {
        let mut p = Params::default();
        p.extend_from(b"text=%00%E9");
        assert_eq!(p.bytes("text"), Some(&[0x00, 0xE9][..]));
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(s in "\\PC{0,40}") {
            prop_assert_eq!(percent_decode(percent_encode(&s).as_bytes()), s.as_bytes().to_vec());
        }
    }
}
