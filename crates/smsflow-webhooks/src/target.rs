//! Which URLs smsflow may call: the guard against server-side request forgery.
//!
//! A webhook URL comes from a tenant, and smsflow calls it from inside its own network, so a URL
//! naming a private, loopback, link-local or otherwise non-public address would let a tenant
//! reach services it must not (a cloud metadata endpoint, the Kafka brokers, the store). Two
//! checks, one policy:
//! - [`TargetPolicy::check_url`] when the URL is given (ingest): an http(s) URL with a host, no
//!   credentials, whose host is not an address outside the public internet and not a name that
//!   only resolves inside a network (`localhost`, `*.local`, `*.internal`, a single label). No
//!   DNS lookup: that would put a resolver on the accept path, and the answer may change.
//! - [`TargetPolicy::check_addr`] on every address the name resolves to when the call is made,
//!   which is what defeats a public name pointing at a private address.
//!
//! `allow_networks` opens chosen networks (the local demo allows `127.0.0.0/8`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use std::sync::LazyLock;

use ipnet::IpNet;
use serde::Deserialize;
use url::{Host, Url};

/// Longest URL accepted (what most browsers and proxies take).
pub const MAX_URL_LEN: usize = 2048;

/// Networks that are not the public internet (IANA special-purpose registries), by kind.
const NOT_PUBLIC: &[(&str, &str)] = &[
    ("this-network", "0.0.0.0/8"),
    ("private", "10.0.0.0/8"),
    ("shared (carrier-grade NAT)", "100.64.0.0/10"),
    ("loopback", "127.0.0.0/8"),
    ("link-local", "169.254.0.0/16"),
    ("private", "172.16.0.0/12"),
    ("IETF protocol assignments", "192.0.0.0/24"),
    ("documentation", "192.0.2.0/24"),
    ("private", "192.168.0.0/16"),
    ("benchmarking", "198.18.0.0/15"),
    ("documentation", "198.51.100.0/24"),
    ("documentation", "203.0.113.0/24"),
    ("multicast", "224.0.0.0/4"),
    ("reserved", "240.0.0.0/4"),
    ("unspecified", "::/128"),
    ("loopback", "::1/128"),
    ("discard", "100::/64"),
    ("documentation", "2001:db8::/32"),
    ("unique-local", "fc00::/7"),
    ("link-local", "fe80::/10"),
    ("site-local", "fec0::/10"),
    ("multicast", "ff00::/8"),
];

/// [`NOT_PUBLIC`], parsed once.
static NOT_PUBLIC_NETS: LazyLock<Vec<(&str, IpNet)>> = LazyLock::new(|| {
    NOT_PUBLIC
        .iter()
        .map(|&(kind, net)| (kind, net.parse().expect("a valid network")))
        .collect()
});

/// Why a webhook target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not a URL.
    #[error("not a valid URL ({0})")]
    Unparsable(String),
    /// A scheme other than http or https.
    #[error("the scheme must be http or https, not {0:?}")]
    Scheme(String),
    /// Longer than [`MAX_URL_LEN`].
    #[error("longer than {MAX_URL_LEN} characters")]
    TooLong,
    /// A user name or password in the URL.
    #[error("the URL must not carry credentials; the call is signed instead")]
    Credentials,
    /// An address outside the public internet.
    #[error("{addr} is a {range} address; smsflow calls only public addresses")]
    NotPublic {
        /// The address.
        addr: IpAddr,
        /// Which kind of network it belongs to.
        range: &'static str,
    },
    /// A name that resolves only inside a network.
    #[error("{0:?} names a host inside a network; smsflow calls only public hosts")]
    LocalName(String),
}

/// Where webhooks may go. Everything public, plus `allow_networks`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TargetPolicy {
    /// Networks that may be called although they are not public, e.g. `["127.0.0.0/8"]` for a
    /// receiver on the same machine. Empty in production.
    pub allow_networks: Vec<IpNet>,
}

impl TargetPolicy {
    /// Public addresses only: the default, and what production runs.
    pub const PUBLIC_ONLY: Self = Self {
        allow_networks: Vec::new(),
    };

    /// A policy that also allows `networks`.
    pub fn allowing(networks: impl IntoIterator<Item = IpNet>) -> Self {
        Self {
            allow_networks: networks.into_iter().collect(),
        }
    }

    /// Checks a URL as given, without resolving its name.
    pub fn check_url(&self, raw: &str) -> Result<Url, TargetError> {
        if raw.len() > MAX_URL_LEN {
            return Err(TargetError::TooLong);
        }
        let url = Url::parse(raw).map_err(|e| TargetError::Unparsable(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TargetError::Scheme(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError::Credentials);
        }
        match url.host() {
            None => return Err(TargetError::Unparsable("no host".into())),
            Some(Host::Ipv4(a)) => self.check_addr(IpAddr::V4(a))?,
            Some(Host::Ipv6(a)) => self.check_addr(IpAddr::V6(a))?,
            Some(Host::Domain(name)) => check_name(name)?,
        }
        Ok(url)
    }

    /// Checks an address a webhook host resolved to, before connecting to it.
    pub fn check_addr(&self, addr: IpAddr) -> Result<(), TargetError> {
        let allowed = |a: IpAddr| self.allow_networks.iter().any(|n| n.contains(&a));
        if allowed(addr) {
            return Ok(());
        }
        let (checked, range) = classify(addr);
        match range {
            Some(range) if !allowed(checked) => Err(TargetError::NotPublic { addr, range }),
            _ => Ok(()),
        }
    }
}

/// The address that decides (the IPv4 address inside an IPv6 one that carries it) and, when it
/// is not public, the kind of network.
fn classify(addr: IpAddr) -> (IpAddr, Option<&'static str>) {
    let checked = match addr {
        IpAddr::V6(a) => embedded_v4(a).map_or(addr, IpAddr::V4),
        IpAddr::V4(_) => addr,
    };
    let kind = NOT_PUBLIC_NETS
        .iter()
        .find_map(|&(kind, net)| net.contains(&checked).then_some(kind));
    (checked, kind)
}

/// IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`)
/// and 6to4 (`2002:aabb:ccdd::`) addresses reach the IPv4 address they carry.
fn embedded_v4(a: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = a.segments();
    let low = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(low(hi, lo)),
        [0, 0, 0, 0, 0, 0, hi, lo] if (hi, lo) > (0, 1) => Some(low(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x2002, hi, lo, ..] => Some(low(hi, lo)),
        _ => None,
    }
}

fn check_name(name: &str) -> Result<(), TargetError> {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    let local = !n.contains('.')
        || ["localhost", "local", "internal", "localdomain", "home.arpa"]
            .iter()
            .any(|suffix| n == *suffix || n.ends_with(&format!(".{suffix}")));
    if local {
        Err(TargetError::LocalName(name.to_owned()))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn refused(url: &str) -> bool {
        TargetPolicy::default().check_url(url).is_err()
    }

    #[test]
    fn public_urls_pass() {
        for u in [
            "https://hooks.example.com/sms?x=1",
            "http://8.8.8.8/cb",
            "https://[2606:4700::1111]:8443/cb",
            "https://api.example.co.uk./cb",
        ] {
            assert!(TargetPolicy::default().check_url(u).is_ok(), "{u}");
        }
    }

    #[test]
    fn private_loopback_and_link_local_targets_are_refused_in_every_spelling() {
        for u in [
            "http://127.0.0.1/cb",
            "http://127.1/cb",
            "http://2130706433/cb",
            "http://0x7f.0.0.1/cb",
            "http://0177.0.0.1/cb",
            "http://10.1.2.3/cb",
            "http://192.168.1.10:8080/cb",
            "http://172.31.255.255/cb",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/cb",
            "http://[::ffff:127.0.0.1]/cb",
            "http://[::ffff:a9fe:a9fe]/cb",
            "http://[64:ff9b::10.0.0.1]/cb",
            "http://[2002:0a00:0001::]/cb",
            "http://[fd00::1]/cb",
            "http://[fe80::1]/cb",
            "http://localhost:8080/cb",
            "http://LOCALHOST./cb",
            "http://api.localhost/cb",
            "http://printer.local/cb",
            "http://metadata.google.internal/",
            "http://intranet/cb",
        ] {
            assert!(refused(u), "{u} passed");
        }
    }

    #[test]
    fn other_schemes_credentials_and_junk_are_refused() {
        for (u, want) in [
            ("ftp://example.com/x", "scheme"),
            ("file:///etc/passwd", "scheme"),
            ("https://user:pw@example.com/", "credentials"),
            ("not a url", "URL"),
        ] {
            let e = TargetPolicy::default()
                .check_url(u)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{u}: {e}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(
            TargetPolicy::default().check_url(&long).unwrap_err(),
            TargetError::TooLong
        );
    }

    #[test]
    fn the_error_names_the_address_and_its_kind() {
        let e = TargetPolicy::default()
            .check_url("http://169.254.169.254/")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "169.254.169.254 is a link-local address; smsflow calls only public addresses"
        );
    }

    #[test]
    fn allowed_networks_open_only_themselves() {
        let p = TargetPolicy::allowing(["127.0.0.0/8".parse().unwrap()]);
        assert!(p.check_url("http://127.0.0.1:9000/cb").is_ok());
        assert!(p.check_url("http://[::ffff:127.0.0.1]/cb").is_ok());
        assert!(p.check_url("http://10.0.0.1/cb").is_err());
        assert!(p.check_url("http://[::1]/cb").is_err());
        // Names are not resolved at this check: `localhost` stays refused.
        assert!(p.check_url("http://localhost/cb").is_err());
    }

    proptest! {
        /// However an IPv4 address is written (dotted, one integer), the URL check says what
        /// the address check says, and that is "refused" exactly inside the listed ranges.
        #[test]
        fn every_spelling_of_an_address_gets_the_same_answer(n in any::<u32>()) {
            let a = Ipv4Addr::from(n);
            let p = TargetPolicy::default();
            let by_addr = p.check_addr(IpAddr::V4(a)).is_ok();
            prop_assert_eq!(p.check_url(&format!("http://{a}/")).is_ok(), by_addr);
            prop_assert_eq!(p.check_url(&format!("http://{n}/")).is_ok(), by_addr);
            let mapped = Ipv6Addr::from(u128::from(n) | 0xffff_0000_0000);
            prop_assert_eq!(p.check_url(&format!("http://[{mapped}]/")).is_ok(), by_addr);
            // The table read here by hand: an IPv4 entry `a.b.c.d/len` holds `n` when their
            // first `len` bits agree.
            let listed = NOT_PUBLIC.iter().filter_map(|(_, net)| net.split_once('/')).any(|(base, len)| {
                let (Ok(base), Ok(len)) = (base.parse::<Ipv4Addr>(), len.parse::<u32>()) else {
                    return false;
                };
                (n ^ u32::from(base)).checked_shr(32 - len).unwrap_or(0) == 0
            });
            prop_assert_eq!(by_addr, !listed);
        }

        #[test]
        fn std_agrees_on_what_is_private(n in any::<u32>()) {
            let a = Ipv4Addr::from(n);
            if a.is_private() || a.is_loopback() || a.is_link_local() || a.is_unspecified()
                || a.is_multicast() || a.is_broadcast() || a.is_documentation() {
                prop_assert!(TargetPolicy::default().check_addr(IpAddr::V4(a)).is_err());
            }
        }
    }
}
