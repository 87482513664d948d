//! The client's address, for throttling and logs: the TCP peer, unless the
//! peer is a trusted reverse proxy.
//!
//! Behind nginx or Caddy every connection comes from the proxy, so keying
//! sign-in throttling by the peer would let anyone lock every admin out.
//! Only when the peer is listed in `trusted_proxies` is `X-Forwarded-For`
//! read, and then from the right: each proxy appends the address it saw,
//! so the rightmost hop that is not itself a trusted proxy is the client.
//! Hops to its left were written by the client and are ignored. A request
//! from any other peer has the header ignored entirely, so a client cannot
//! choose its own address.
//!
//! `Forwarded` (RFC 7239) is not read: a proxy that sets only that one
//! passes a client's own `X-Forwarded-For` through untouched, and reading
//! either header then lets the client pick its address. nginx, Caddy,
//! HAProxy, Traefik and the cloud load balancers all set `X-Forwarded-For`.
//!
//! CIDRs are parsed with the `ipnet` crate (already in the tree under hyper).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::state::AppState;

/// Where a request came from, as far as can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Every listener inserts ConnectInfo; a router driven without one
        // (a unit test) is treated as an unspecified peer.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        Ok(ClientAddr(client_ip(
            peer,
            &parts.headers,
            &state.config.trusted_proxies,
        )))
    }
}

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    let ip = canonical(ip);
    proxies.iter().any(|net| net.contains(&ip))
}

/// IPv4 peers on a dual-stack socket arrive as `::ffff:a.b.c.d`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client address of a request from `peer` with `headers`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !trusted(peer, proxies) {
        return peer;
    }
    let mut hops = forwarded_for(headers);
    let mut client = peer;
    while let Some(hop) = hops.pop() {
        // Unreadable ("unknown", an obfuscated name): nothing further
        // left can be trusted, so the last proxy is as far as it goes.
        let Some(ip) = parse_hop(&hop) else {
            return client;
        };
        client = canonical(ip);
        if !trusted(client, proxies) {
            return client;
        }
    }
    client
}

/// The hops of `X-Forwarded-For`, every instance, in order.
fn forwarded_for(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|hop| hop.trim().to_owned())
        .filter(|hop| !hop.is_empty())
        .collect()
}

/// `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1`, `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    hop.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(inside, _)| inside.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let proxies = ["10.0.0.0/8".parse().unwrap()];
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            client_ip(ip("203.0.113.9"), &h, &proxies),
            ip("203.0.113.9")
        );
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &[]), ip("10.0.0.2"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client_and_spoofed_hops_left_of_it_are_ignored() {
        let proxies = [
            "10.0.0.0/8".parse().unwrap(),
            "127.0.0.1/32".parse().unwrap(),
        ];
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.4, 10.1.2.3")]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &proxies), ip("198.51.100.4"));
        // Two header lines count as one list, in order.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.4"),
        ]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &proxies), ip("198.51.100.4"));
        // Only proxies: the leftmost is as far as it goes.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.1.1.1")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &proxies), ip("10.9.9.9"));
        // Junk stops the walk at the last proxy.
        let h = headers(&[("x-forwarded-for", "198.51.100.4, unknown")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &proxies), ip("10.0.0.1"));
    }

    #[test]
    fn forwarded_is_never_read_and_hops_may_carry_ports() {
        let proxies = ["10.0.0.0/8".parse().unwrap()];
        let h = headers(&[("forwarded", "for=6.6.6.6")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &proxies), ip("10.0.0.1"));
        let h = headers(&[("x-forwarded-for", "[2001:db8::7]:4711, 198.51.100.4:80")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &proxies), ip("198.51.100.4"));
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_proxies() {
        let proxies = ["127.0.0.1/32".parse().unwrap()];
        let h = headers(&[("x-forwarded-for", "198.51.100.4")]);
        assert_eq!(
            client_ip(ip("::ffff:127.0.0.1"), &h, &proxies),
            ip("198.51.100.4")
        );
    }
}
