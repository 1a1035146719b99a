//! Who the client is: its IP address, from the TCP peer, or from the proxy headers when
//! (and only when) the peer is a proxy we trust. Computed once per request by
//! [`identify`]; the rate limiter, the stream caps and the request log all read it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The networks whose `X-Forwarded-For` / `X-Real-IP` we believe (`TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    /// Trusts these networks.
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks.into())
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the peer's, unless the peer is trusted; then the rightmost
    /// address in `X-Forwarded-For` that is not itself a trusted proxy (each proxy appends
    /// the address it saw, so everything left of an untrusted hop may be forged), else
    /// `X-Real-IP`, else the peer's.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
            .map(canonical)
            .collect();
        if let Some(hop) = forwarded.iter().rev().find(|ip| !self.trusts(**ip)) {
            return *hop;
        }
        if let Some(first) = forwarded.first() {
            // Every hop is one of ours: the leftmost is the closest we know to the client.
            return *first;
        }
        headers
            .get("x-real-ip")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
            .map_or(peer, canonical)
    }
}

impl TrustedProxies {
    /// Whether the client reached us over HTTPS: a trusted proxy says so in
    /// `X-Forwarded-Proto` (its last value: the hop nearest to us). Our own listener is
    /// plain HTTP.
    pub fn over_https(&self, peer: IpAddr, headers: &HeaderMap) -> bool {
        self.trusts(canonical(peer))
            && headers
                .get_all("x-forwarded-proto")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .next_back()
                .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
    }
}

/// IPv4 addresses seen through an IPv6 socket (`::ffff:a.b.c.d`) are the IPv4 client.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The client's IP address, as [`identify`] decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

/// Whether the client reached us over HTTPS, as [`identify`] decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverHttps(pub bool);

/// Decides the client's address once and keeps it with the request.
pub async fn identify(State(proxies): State<TrustedProxies>, mut request: Request, next: Next) -> Response {
    // Served without connection info (a test calling the router directly): no peer to name.
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| addr.ip());
    let ip = proxies.client_ip(peer, request.headers());
    let https = proxies.over_https(peer, request.headers());
    request.extensions_mut().insert(ClientIp(ip));
    request.extensions_mut().insert(OverHttps(https));
    next.run(request).await
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<ClientIp>().copied().unwrap_or(ClientIp(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an IP")
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_peers() {
        let proxies = TrustedProxies::new(vec!["10.0.0.0/8".parse().expect("CIDR"), "::1/128".parse().expect("CIDR")]);
        let cases = [
            ("untrusted peer, spoofed header", "203.0.113.9", vec![("x-forwarded-for", "1.2.3.4")], "203.0.113.9"),
            ("trusted peer, one hop", "10.0.0.2", vec![("x-forwarded-for", "198.51.100.7")], "198.51.100.7"),
            (
                "trusted peer, client forged the left part",
                "10.0.0.2",
                vec![("x-forwarded-for", "1.2.3.4, 198.51.100.7")],
                "198.51.100.7",
            ),
            (
                "two of our proxies in the chain",
                "10.0.0.2",
                vec![("x-forwarded-for", "198.51.100.7, 10.0.0.9")],
                "198.51.100.7",
            ),
            (
                "several headers",
                "10.0.0.2",
                vec![("x-forwarded-for", "1.2.3.4"), ("x-forwarded-for", "198.51.100.7")],
                "198.51.100.7",
            ),
            (
                "garbage hops are skipped",
                "10.0.0.2",
                vec![("x-forwarded-for", "198.51.100.7, nonsense")],
                "198.51.100.7",
            ),
            ("X-Real-IP from a trusted peer", "10.0.0.2", vec![("x-real-ip", "198.51.100.8")], "198.51.100.8"),
            ("X-Real-IP from an untrusted peer", "192.0.2.1", vec![("x-real-ip", "198.51.100.8")], "192.0.2.1"),
            ("trusted peer, no header", "10.0.0.2", vec![], "10.0.0.2"),
            ("IPv6 loopback proxy", "::1", vec![("x-forwarded-for", "2001:db8::5")], "2001:db8::5"),
            ("mapped IPv4 peer", "::ffff:192.0.2.1", vec![], "192.0.2.1"),
        ];
        for (description, peer, pairs, expected) in cases {
            assert_eq!(proxies.client_ip(ip(peer), &headers(&pairs)), ip(expected), "{description}");
        }
    }

    #[test]
    fn https_is_believed_only_from_a_trusted_proxy() {
        let proxies = TrustedProxies::new(vec!["10.0.0.0/8".parse().expect("CIDR")]);
        let https = headers(&[("x-forwarded-proto", "https")]);
        let downgraded = headers(&[("x-forwarded-proto", "https, http")]);

        assert!(proxies.over_https(ip("10.0.0.2"), &https));
        assert!(!proxies.over_https(ip("203.0.113.9"), &https), "anyone can send the header");
        assert!(!proxies.over_https(ip("10.0.0.2"), &downgraded), "the nearest hop speaks last");
        assert!(!proxies.over_https(ip("10.0.0.2"), &headers(&[])));
    }

    #[test]
    fn nobody_is_trusted_by_default() {
        let forged = headers(&[("x-forwarded-for", "1.2.3.4"), ("x-real-ip", "1.2.3.4")]);
        assert_eq!(TrustedProxies::default().client_ip(ip("127.0.0.1"), &forged), ip("127.0.0.1"));
    }
}
