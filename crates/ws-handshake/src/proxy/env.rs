//! Choosing a proxy from environment variables, as a pure function of a lookup closure.

use std::net::IpAddr;

use super::{Proxy, ProxyError};

/// The variables consulted for a `wss` target, in order.
const SECURE_VARS: [&str; 4] = ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"];
/// The variables consulted for a `ws` target, in order.
const PLAIN_VARS: [&str; 4] = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"];

pub(super) fn from_env_for(
    target_host: &str,
    target_port: u16,
    secure: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Proxy>, ProxyError> {
    let value = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    if let Some(no_proxy) = value("no_proxy").or_else(|| value("NO_PROXY")) {
        if NoProxy::parse(&no_proxy).matches(target_host, target_port) {
            return Ok(None);
        }
    }
    let cgi = value("REQUEST_METHOD").is_some();
    let vars = if secure { SECURE_VARS } else { PLAIN_VARS };
    for variable in vars {
        if variable == "HTTP_PROXY" && cgi {
            continue;
        }
        if let Some(v) = value(variable) {
            return Proxy::parse(&v).map(Some).map_err(|e| ProxyError::FromEnv {
                variable,
                error: Box::new(e),
            });
        }
    }
    Ok(None)
}

/// A `NO_PROXY` list: the hosts to reach directly, bypassing the proxy.
///
/// The list is separated by commas (and/or whitespace); entries are case-insensitive:
///
/// | entry | matches |
/// |---|---|
/// | `*` | every host |
/// | `example.com`, `.example.com`, `*.example.com` | `example.com` and every name ending in `.example.com` (as curl does: the leading `.` or `*.` is ignored; `notexample.com` does not match) |
/// | `example.com:8080` | the same names, port 8080 only |
/// | `192.168.1.10`, `::1`, `[::1]` | that IP address written as an IP literal in the URL (no DNS lookup: `localhost` does not match `127.0.0.1`) |
/// | `192.168.1.10:8080`, `[::1]:8080` | that address, port 8080 only |
/// | `10.0.0.0/8`, `fe80::/10`, `[fe80::]/10` | IP literals in that CIDR block |
///
/// A trailing `.` on names (`example.com.`) is ignored on both sides. An entry that does
/// not parse (a bad port or prefix length) is skipped, as curl does. IPv4-mapped IPv6
/// addresses are not matched against IPv4 entries.
///
/// ```
/// use ws_handshake::proxy::NoProxy;
///
/// let list = NoProxy::parse("localhost, .corp.example, 10.0.0.0/8, [::1]:9000");
/// assert!(list.matches("api.corp.example", 443));
/// assert!(list.matches("corp.example", 443));
/// assert!(!list.matches("notcorp.example", 443));
/// assert!(list.matches("10.1.2.3", 80));
/// assert!(list.matches("[::1]", 9000) && !list.matches("::1", 9001));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoProxy {
    all: bool,
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    Domain { name: String, port: Option<u16> },
    Ip { addr: IpAddr, port: Option<u16> },
    Cidr { net: IpAddr, prefix: u8 },
}

impl NoProxy {
    /// Parses a list (the value of `NO_PROXY`); never fails, see the type's docs.
    pub fn parse(list: &str) -> NoProxy {
        let mut out = NoProxy::default();
        for raw in list.split(|c: char| c == ',' || c.is_whitespace()) {
            let entry = raw.trim().to_ascii_lowercase();
            if entry.is_empty() {
                continue;
            }
            if entry == "*" {
                out.all = true;
                continue;
            }
            if let Some(e) = parse_entry(&entry) {
                out.entries.push(e);
            }
        }
        out
    }

    /// Whether a connection to `host:port` should bypass the proxy. `host` is a name or an
    /// IP literal (IPv6 with or without `[]`), as in a URL.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.all {
            return true;
        }
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let port_ok = |p: &Option<u16>| p.is_none_or(|p| p == port);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return self.entries.iter().any(|e| match e {
                Entry::Ip { addr, port: p } => *addr == ip && port_ok(p),
                Entry::Cidr { net, prefix } => in_cidr(ip, *net, *prefix),
                Entry::Domain { .. } => false,
            });
        }
        let name = bare.to_ascii_lowercase();
        let name = name.strip_suffix('.').unwrap_or(&name);
        self.entries.iter().any(|e| match e {
            Entry::Domain { name: d, port: p } => {
                let suffix_ok = name == d
                    || (name.len() > d.len()
                        && name.ends_with(d.as_str())
                        && name.as_bytes()[name.len() - d.len() - 1] == b'.');
                suffix_ok && port_ok(p)
            }
            _ => false,
        })
    }

    /// Whether the list matches every host (`*`).
    pub fn matches_all(&self) -> bool {
        self.all
    }

    /// Whether the list has no usable entry.
    pub fn is_empty(&self) -> bool {
        !self.all && self.entries.is_empty()
    }
}

/// One lowercase, trimmed, non-empty entry other than `*`.
fn parse_entry(entry: &str) -> Option<Entry> {
    // CIDR: "addr/len", the address possibly in [].
    if let Some((addr, len)) = entry.split_once('/') {
        let addr = addr
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or(addr);
        let net: IpAddr = addr.parse().ok()?;
        let prefix: u8 = len.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        return (prefix <= max).then_some(Entry::Cidr { net, prefix });
    }
    // "[v6]" or "[v6]:port".
    if let Some(inner) = entry.strip_prefix('[') {
        let (addr, after) = inner.split_once(']')?;
        let addr = addr.parse().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        return Some(Entry::Ip { addr, port });
    }
    // A bare IP (including bare IPv6, which has colons but no port).
    if let Ok(addr) = entry.parse::<IpAddr>() {
        return Some(Entry::Ip { addr, port: None });
    }
    // "host:port" (IPv4 or name).
    let (host, port) = match entry.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse::<u16>().ok()?)),
        None => (entry, None),
    };
    if let Ok(addr) = host.parse::<IpAddr>() {
        return Some(Entry::Ip { addr, port });
    }
    let name = host
        .strip_prefix("*.")
        .or_else(|| host.strip_prefix('.'))
        .unwrap_or(host);
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.contains(['*', ':', '[', ']']) {
        return None;
    }
    Some(Entry::Domain {
        name: name.to_owned(),
        port,
    })
}

/// Whether `ip` is in `net/prefix` (same address family only).
fn in_cidr(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}
