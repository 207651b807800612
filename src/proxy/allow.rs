//! Allow-lists of peers (`--forwarded-allow-ips`, `--proxy-allow-ips`): addresses, CIDR
//! ranges, `*` (everyone) and `unix` (clients of a Unix socket listener).
//!
//! IPv4 ranges are kept as IPv4-mapped IPv6 ranges (`10.0.0.0/8` is `::ffff:10.0.0.0/104`),
//! so one comparison serves both families, and a dual-stack listener's IPv4 client
//! (`::ffff:127.0.0.1`) matches `127.0.0.1` as it should.

use crate::peer::Peer;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One allowed range: an IPv6 (or IPv4-mapped) network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Net {
    bits: u128,
    prefix: u8,
}

impl Net {
    fn contains(self, ip: u128) -> bool {
        // A /0 would shift by 128, which overflows: it holds everything.
        self.prefix == 0 || (self.bits ^ ip) >> (128 - u32::from(self.prefix)) == 0
    }
}

/// Which peers are allowed.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AllowList {
    nets: Vec<Net>,
    /// `*`: every peer, TCP or Unix.
    any: bool,
    /// `unix`: clients of Unix socket listeners (they have no address to match).
    unix: bool,
    /// The entries as written, for `--print-config`.
    entries: Vec<String>,
}

/// An address in the common 128-bit space (IPv4 as IPv4-mapped IPv6).
fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl AllowList {
    /// Parses entries (`127.0.0.1`, `10.0.0.0/8`, `2001:db8::/32`, `*`, `unix`); the error
    /// names the bad entry and says what is allowed.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<AllowList, String> {
        let mut list = AllowList::default();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry.is_empty() {
                continue;
            }
            list.entries.push(entry.to_owned());
            match entry {
                "*" => list.any = true,
                "unix" => list.unix = true,
                _ => list.nets.push(parse_net(entry)?),
            }
        }
        Ok(list)
    }

    /// Whether `peer` is allowed.
    pub fn allows(&self, peer: &Peer) -> bool {
        match peer {
            Peer::Tcp(addr) => self.allows_ip(addr.ip()),
            Peer::Unix => self.any || self.unix,
        }
    }

    /// Whether the address `ip` is allowed.
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        if self.any {
            return true;
        }
        let ip = bits(ip);
        self.nets.iter().any(|net| net.contains(ip))
    }

    /// Whether it allows no one at all.
    pub fn is_empty(&self) -> bool {
        !self.any && !self.unix && self.nets.is_empty()
    }

    /// The entries as written.
    pub fn entries(&self) -> &[String] {
        &self.entries
    }
}

impl fmt::Display for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.entries.join(","))
    }
}

/// What an entry may be, for error messages.
pub const ALLOWED_ENTRIES: &str = "IP addresses or CIDR ranges (127.0.0.1, 10.0.0.0/8, \
     ::1, 2001:db8::/32), * for everyone, or unix for Unix socket clients, comma-separated";

fn parse_net(entry: &str) -> Result<Net, String> {
    let bad = |why: &str| format!("{entry:?} is not valid ({why}); expected {ALLOWED_ENTRIES}");
    let (addr, prefix) = match entry.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (entry, None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| bad("not an IP address"))?;
    let max = match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    let prefix = match prefix {
        None => max,
        Some(p) => match p.parse::<u8>() {
            // Digits only: u8's parser would take "+8".
            Ok(n) if n <= max && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(bad(&format!("the prefix length must be 0 to {max}"))),
        },
    };
    let prefix = if max == 32 { prefix + 96 } else { prefix };
    let net = Net {
        bits: bits(ip),
        prefix,
    };
    let host_mask = if prefix == 0 {
        u128::MAX
    } else {
        (1u128 << (128 - u32::from(prefix))).wrapping_sub(1)
    };
    if net.bits & host_mask != 0 {
        // As Python's ipaddress (and so gunicorn) does: "10.1.2.3/8" is most likely a typo.
        let base = net.bits & !host_mask;
        let shown = match ip {
            IpAddr::V4(_) => Ipv4Addr::from((base & 0xffff_ffff) as u32).to_string(),
            IpAddr::V6(_) => Ipv6Addr::from(base).to_string(),
        };
        return Err(bad(&format!(
            "it has host bits set; the network is {shown}/{}",
            if max == 32 { prefix - 96 } else { prefix }
        )));
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn list(entries: &[&str]) -> AllowList {
        AllowList::parse(entries).expect("valid")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn single_addresses() {
        let l = list(&["127.0.0.1", "::1"]);
        assert!(l.allows_ip(ip("127.0.0.1")));
        assert!(l.allows_ip(ip("::1")));
        assert!(!l.allows_ip(ip("127.0.0.2")));
        assert!(!l.allows_ip(ip("::2")));
        assert!(!l.allows_ip(ip("10.0.0.1")));
        // An IPv4 client on a dual-stack socket.
        assert!(l.allows_ip(ip("::ffff:127.0.0.1")));
        assert!(!l.allows_ip(ip("::ffff:127.0.0.2")));
        // 0.0.0.1 is not ::1.
        assert!(!l.allows_ip(ip("0.0.0.1")));
    }

    #[test]
    fn cidr_ranges() {
        let l = list(&["10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32", "fe80::/10"]);
        for yes in [
            "10.0.0.0",
            "10.255.255.255",
            "192.168.1.77",
            "::ffff:10.1.2.3",
            "2001:db8::1",
            "2001:db8:ffff::1",
            "fe80::1",
            "febf::1",
        ] {
            assert!(l.allows_ip(ip(yes)), "{yes}");
        }
        for no in [
            "11.0.0.0",
            "9.255.255.255",
            "192.168.2.1",
            "2001:db9::1",
            "fec0::1",
            "::1",
        ] {
            assert!(!l.allows_ip(ip(no)), "{no}");
        }
        // A mapped range written as IPv6 matches plain IPv4 too.
        let l = list(&["::ffff:10.0.0.0/104"]);
        assert!(l.allows_ip(ip("10.9.9.9")));
        assert!(!l.allows_ip(ip("11.0.0.1")));
    }

    #[test]
    fn zero_prefixes() {
        let v4 = list(&["0.0.0.0/0"]);
        assert!(v4.allows_ip(ip("1.2.3.4")));
        assert!(v4.allows_ip(ip("255.255.255.255")));
        assert!(!v4.allows_ip(ip("2001:db8::1")), "all of IPv4, not IPv6");
        let v6 = list(&["::/0"]);
        assert!(v6.allows_ip(ip("2001:db8::1")));
        assert!(v6.allows_ip(ip("1.2.3.4")));
    }

    #[test]
    fn star_and_unix() {
        let tcp: Peer = Peer::Tcp("203.0.113.9:5000".parse::<SocketAddr>().expect("addr"));
        let star = list(&["*"]);
        assert!(star.allows(&tcp));
        assert!(star.allows(&Peer::Unix));
        let default = list(&["127.0.0.1", "::1"]);
        assert!(
            !default.allows(&Peer::Unix),
            "Unix clients only when configured"
        );
        let unix = list(&["unix"]);
        assert!(unix.allows(&Peer::Unix));
        assert!(!unix.allows(&tcp));
        assert!(AllowList::parse::<&str>(&[]).expect("empty").is_empty());
        assert!(list(&["", " "]).is_empty());
    }

    #[test]
    fn bad_entries_are_named() {
        for bad in [
            "localhost",
            "1.2.3",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/+8",
            "10.0.0.0/",
            "10.1.2.3/8",
            "2001:db8::1/32",
            "[::1]",
            "1.2.3.4:80",
        ] {
            let err = AllowList::parse(&[bad]).expect_err(bad);
            assert!(err.contains(bad), "{err}");
        }
        let err = AllowList::parse(&["10.1.2.3/8"]).expect_err("host bits");
        assert!(err.contains("10.0.0.0/8"), "{err}");
    }

    #[test]
    fn displays_as_written() {
        let l = list(&["127.0.0.1", " 10.0.0.0/8", "unix"]);
        assert_eq!(l.to_string(), "127.0.0.1,10.0.0.0/8,unix");
    }
}
