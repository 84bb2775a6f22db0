//! Which `Host` names the server answers to, and which page origins may change its
//! state: the guard against DNS rebinding (a web site whose name now resolves to this
//! server reads the library through the victim's browser) and cross-site requests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Name {
    /// Canonical: an IPv4-mapped IPv6 address is its IPv4 address.
    Ip(IpAddr),
    /// Lower case, without a trailing dot.
    Domain(String),
}

impl Name {
    fn is_loopback(&self) -> bool {
        match self {
            Name::Ip(ip) => ip.is_loopback(),
            Name::Domain(d) => d == "localhost" || d.ends_with(".localhost"),
        }
    }
}

/// One allowed name; `port: None` allows it on any port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    name: Name,
    port: Option<u16>,
}

/// The names the server answers to: loopback names (`localhost`, `*.localhost`,
/// `127.0.0.0/8`, `[::1]`, `[::ffff:127.x.x.x]`) on any port, the address it listens on
/// (`IP:PORT`, and the IP alone), and the names it was told to allow
/// (`moodtune serve --allow-host`). Every request's `Host` must be one of them; the
/// `Origin` of a state-changing request must be the server's own (see
/// [`HostAllowlist::allows_origin`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostAllowlist {
    /// The port the server listens on, once known.
    port: Option<u16>,
    entries: Vec<Entry>,
}

impl HostAllowlist {
    /// Loopback names only, on any port ([`crate::ServerConfig::default`]).
    pub fn loopback() -> Self {
        Self::default()
    }

    /// Loopback names and the address `addr` the server listens on.
    pub fn for_addr(addr: SocketAddr) -> Self {
        let mut list = Self::loopback();
        list.add_bound(addr);
        list
    }

    /// Allows the address the server listens on: `IP:PORT`, and the IP alone (a `Host`
    /// without a port). [`crate::run_blocking`] adds it once bound.
    pub fn add_bound(&mut self, addr: SocketAddr) {
        self.port = Some(addr.port());
        let entry = Entry {
            name: Name::Ip(addr.ip().to_canonical()),
            port: Some(addr.port()),
        };
        if !self.entries.contains(&entry) {
            self.entries.push(entry);
        }
    }

    /// Allows a host name or address, optionally with a port (`music.example.org`,
    /// `music.example.org:8443`, `192.168.1.20`, `[fd00::1]:7878`); without a port it is
    /// allowed on any port. Errors name what is wrong with `name`.
    pub fn allow(&mut self, name: &str) -> Result<(), String> {
        let (name, port) = parse_authority(name.trim()).ok_or_else(|| {
            format!(
                "{name:?} is not a host name: expected a name or an IP address, optionally \
                 with :PORT (e.g. music.example.org, 192.168.1.20:7878, [fd00::1])"
            )
        })?;
        let entry = Entry { name, port };
        if !self.entries.contains(&entry) {
            self.entries.push(entry);
        }
        Ok(())
    }

    /// [`HostAllowlist::allow`] for a builder chain.
    pub fn with(mut self, name: &str) -> Result<Self, String> {
        self.allow(name)?;
        Ok(self)
    }

    /// Whether a request whose `Host` header is `host` is answered. A `Host` without a
    /// port matches an allowed name on any port.
    pub fn allows_host(&self, host: &str) -> bool {
        let Some((name, port)) = parse_authority(host) else {
            return false;
        };
        name.is_loopback()
            || self
                .entries
                .iter()
                .any(|e| e.name == name && (e.port.is_none() || port.is_none() || e.port == port))
    }

    /// Whether a page of `origin` (an `Origin` header: `scheme://host[:port]`) is this
    /// server's own, to a request whose `Host` is `host`: the same authority as an
    /// allowed `Host`, or an allowed name on its port. Loopback names count only on the
    /// port the server listens on: `http://localhost:3000` is another local app's page.
    pub fn allows_origin(&self, origin: &str, host: Option<&str>) -> bool {
        let Some((scheme, authority)) = origin.split_once("://") else {
            return false;
        };
        let default_port = match scheme.to_ascii_lowercase().as_str() {
            "http" => 80,
            "https" => 443,
            _ => return false,
        };
        if let Some(host) = host {
            if authority.eq_ignore_ascii_case(host) && self.allows_host(host) {
                return true;
            }
        }
        let Some((name, port)) = parse_authority(authority) else {
            return false;
        };
        let port = port.unwrap_or(default_port);
        (name.is_loopback() && self.port == Some(port))
            || self
                .entries
                .iter()
                .any(|e| e.name == name && e.port.is_none_or(|p| p == port))
    }
}

/// Whether `ip` is loopback, IPv4-mapped IPv6 loopback (`::ffff:127.0.0.1`) included.
pub fn is_loopback_ip(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// What the user should be told before the server listens on `addr`: that a
/// non-loopback address exposes the app, and, for an unspecified address with no
/// `--allow-host` names (`names_allowed`), that other computers' requests will be
/// refused until one is given. Empty on loopback.
pub fn exposure_warnings(addr: SocketAddr, names_allowed: bool) -> Vec<String> {
    let mut lines = Vec::new();
    if is_loopback_ip(addr.ip()) {
        return lines;
    }
    lines.push(format!(
        "warning: listening on {addr}, not on loopback: anyone who can reach this address can \
         use the app, see your library and send it images. Use only on a network you trust."
    ));
    if addr.ip().is_unspecified() && !names_allowed {
        let example = if addr.is_ipv4() {
            "192.168.1.20"
        } else {
            "[fd00::20]"
        };
        lines.push(format!(
            "note: only requests to localhost or {addr} are answered; give the name or \
             address other computers use with --allow-host NAME (e.g. --allow-host {example})"
        ));
    }
    lines
}

/// `host[:port]` as in a `Host` header or a URL: a name, an IPv4 address or a bracketed
/// IPv6 address. `None` when it is none of these.
fn parse_authority(s: &str) -> Option<(Name, Option<u16>)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = ip.parse().ok()?;
        let port = match after {
            "" => None,
            p => parse_port(p.strip_prefix(':')?)?,
        };
        return Some((Name::Ip(IpAddr::V6(ip).to_canonical()), port));
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, parse_port(p)?),
            None => (s, None),
        }
    };
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Some((Name::Ip(IpAddr::V4(ip)), port));
    }
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    valid.then_some((Name::Domain(host), port))
}

/// The port of an authority; an empty one (`host:`) is no port. `None` inside when
/// there is none, the outer `None` when it is not a port.
fn parse_port(p: &str) -> Option<Option<u16>> {
    if p.is_empty() {
        return Some(None);
    }
    if !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok().map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_exposed_address_is_warned_about() {
        let warn = |a: &str, named: bool| exposure_warnings(a.parse().unwrap(), named);
        assert!(warn("127.0.0.1:7878", false).is_empty());
        assert!(warn("[::ffff:127.0.0.1]:7878", false).is_empty());
        let lan = warn("192.168.1.5:80", false);
        assert_eq!(lan.len(), 1);
        assert!(lan[0].starts_with("warning: listening on 192.168.1.5:80"));
        let any = warn("0.0.0.0:7878", false);
        assert_eq!(any.len(), 2);
        assert!(any[1].contains("--allow-host 192.168.1.20"), "{}", any[1]);
        assert!(warn("[::]:7878", false)[1].contains("[fd00::20]"));
        assert_eq!(warn("0.0.0.0:7878", true).len(), 1);
    }

    #[test]
    fn loopback_names_on_any_port() {
        let list = HostAllowlist::loopback();
        for ok in [
            "localhost",
            "LocalHost:7878",
            "localhost.:7878",
            "127.0.0.1:7878",
            "127.1.2.3",
            "[::1]:7878",
            "[::ffff:127.0.0.1]:7878",
            "[::ffff:7f00:1]",
            "app.localhost:1",
            "localhost:",
        ] {
            assert!(list.allows_host(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example:7878",
            "192.168.1.2:7878",
            "[::2]:1",
            "[::ffff:192.168.1.2]",
            "localhost.evil.com",
            "localhost:port",
            "localhost:99999",
            "::1",
            "local host",
            "[::1",
            "[::1]x",
        ] {
            assert!(!list.allows_host(bad), "{bad}");
        }
    }

    #[test]
    fn the_bound_address_and_allowed_names() {
        let mut list = HostAllowlist::for_addr("192.168.1.20:7878".parse().unwrap());
        list.allow("Music.Example.org").unwrap();
        list.allow("[fd00::1]:8443").unwrap();
        for ok in [
            "192.168.1.20:7878",
            "192.168.1.20",
            "[::ffff:192.168.1.20]:7878",
            "music.example.org",
            "music.example.org.:9",
            "[fd00::1]:8443",
            "[fd00::1]",
            "localhost:7878",
        ] {
            assert!(list.allows_host(ok), "{ok}");
        }
        for bad in [
            "192.168.1.20:7879",
            "192.168.1.21:7878",
            "[fd00::1]:7878",
            "evil.example",
            "example.org",
        ] {
            assert!(!list.allows_host(bad), "{bad}");
        }
        for bad in ["", "a b", "http://x", "x:y", "[zz]", "a..b"] {
            assert!(HostAllowlist::loopback().allow(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn origins_are_the_servers_own() {
        let list = HostAllowlist::for_addr("0.0.0.0:7878".parse().unwrap())
            .with("music.example.org")
            .unwrap();
        let host = Some("127.0.0.1:7878");
        for ok in [
            "http://127.0.0.1:7878",
            "http://localhost:7878",
            "https://music.example.org",
            "http://[::1]:7878",
        ] {
            assert!(list.allows_origin(ok, host), "{ok}");
        }
        for bad in [
            "null",
            "http://localhost:3000",
            "http://127.0.0.1",
            "https://evil.example",
            "ftp://127.0.0.1:7878",
            "http://evil.example:7878",
        ] {
            assert!(!list.allows_origin(bad, host), "{bad}");
        }
        // The same authority as an allowed Host is the page's own.
        let plain = HostAllowlist::loopback();
        assert!(plain.allows_origin("http://localhost:9000", Some("localhost:9000")));
        assert!(!plain.allows_origin("http://localhost:9000", Some("localhost:7878")));
        assert!(!plain.allows_origin("http://evil.example", Some("evil.example")));
    }

    #[test]
    fn mapped_loopback_is_loopback() {
        assert!(is_loopback_ip("::ffff:127.0.0.1".parse().unwrap()));
        assert!(is_loopback_ip("::1".parse().unwrap()));
        assert!(!is_loopback_ip("::ffff:10.0.0.1".parse().unwrap()));
    }
}
