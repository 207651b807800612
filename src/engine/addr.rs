//! The client's address as environ text (`REMOTE_ADDR`, `REMOTE_PORT`), written digit by
//! digit: std's `Display` for addresses goes through the formatting machinery (padding,
//! width), which cost about 1,300 instructions per accepted connection, a twentieth of
//! serving a `Connection: close` request.

use std::net::{IpAddr, SocketAddr};

/// `REMOTE_ADDR` and `REMOTE_PORT` for a TCP peer.
pub fn remote(addr: &SocketAddr) -> (String, String) {
    let ip = ip_text(addr.ip());
    let mut port = String::with_capacity(5);
    push_decimal(&mut port, u32::from(addr.port()));
    (ip, port)
}

/// An address as `REMOTE_ADDR` text.
pub fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let mut text = String::with_capacity(15);
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    text.push('.');
                }
                push_decimal(&mut text, u32::from(octet));
            }
            text
        }
        // Rare enough, and its shortest form (RFC 5952) is subtle: std's is correct.
        IpAddr::V6(v6) => v6.to_string(),
    }
}

/// Appends `n` in decimal.
fn push_decimal(text: &mut String, n: u32) {
    text.push_str(crate::decimal::Decimal::new(u64::from(n)).as_str());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_std_formatting() {
        let cases = [
            "0.0.0.0:0",
            "127.0.0.1:80",
            "10.20.30.40:8080",
            "255.255.255.255:65535",
            "1.2.3.4:9",
            "[::1]:443",
            "[2001:db8::ff00:42:8329]:12345",
            "[::ffff:192.0.2.1]:1",
        ];
        for case in cases {
            let addr: SocketAddr = case.parse().expect("valid");
            let (ip, port) = remote(&addr);
            assert_eq!(ip, addr.ip().to_string(), "{case}");
            assert_eq!(port, addr.port().to_string(), "{case}");
        }
    }
}
