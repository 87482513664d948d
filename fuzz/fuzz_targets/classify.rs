//! `belfry_server::front::classify` on arbitrary bytes: it never panics,
//! serves a connection directly only for a plain stream request, agrees
//! with httparse on what a complete head is, and never changes its mind
//! once it has decided.

#![no_main]

use belfry_server::front::{Classification, EVENTS_PATH, MAX_HEAD, MAX_HEADERS, Reason, classify};
use http::header;
use libfuzzer_sys::fuzz_target;

/// More header slots than `classify` has, so httparse here is never the
/// one that runs out.
const SLOTS: usize = 4 * MAX_HEADERS;

fuzz_target!(|data: &[u8]| {
    let decision = classify(data);
    check_against_httparse(data, &decision);

    // More bytes never undo a decision: a prefix that is decided stays
    // decided, a prefix handed to hyper stays with hyper, and a direct head
    // with anything after it is pipelined.
    let splits = [
        data.len() / 2,
        data.len().saturating_sub(1),
        usize::from(data.first().copied().unwrap_or(0)),
    ];
    for split in splits.into_iter().filter(|&s| s < data.len()) {
        match (classify(&data[..split]), &decision) {
            (Classification::Incomplete, _) => {}
            (Classification::ToHyper(_), Classification::ToHyper(_)) => {}
            (Classification::Direct(_), Classification::ToHyper(_)) => {}
            (early, late) => panic!("{split} bytes: {early:?}, then {late:?}"),
        }
    }
});

fn check_against_httparse(data: &[u8], decision: &Classification) {
    let mut slots = [httparse::EMPTY_HEADER; SLOTS];
    let mut parsed = httparse::Request::new(&mut slots);
    let status = parsed.parse(data);
    match decision {
        Classification::Direct(head) => {
            // A whole head, exactly the bytes given, within the limits.
            assert_eq!(status, Ok(httparse::Status::Complete(data.len())));
            assert!(data.len() <= MAX_HEAD);
            assert!(parsed.headers.len() <= MAX_HEADERS);
            assert_eq!(parsed.method, Some("GET"));
            assert_eq!(parsed.version, Some(1));
            // Exactly the events path, in origin-form, with at most a query.
            let target = parsed.path.expect("a complete head has a target");
            let raw_path = target.split_once('?').map_or(target, |(p, _)| p);
            assert_eq!(raw_path, EVENTS_PATH);
            assert_eq!(head.uri.path(), EVENTS_PATH);
            assert!(head.uri.scheme().is_none() && head.uri.authority().is_none());
            // No body, no `Expect`, no `Upgrade`, and every header kept.
            for h in parsed.headers.iter() {
                let name = h.name.to_ascii_lowercase();
                assert_ne!(name, "transfer-encoding");
                assert_ne!(name, "expect");
                assert_ne!(name, "upgrade");
                if name == "content-length" {
                    assert_eq!(h.value, b"0");
                }
            }
            assert_eq!(head.headers.len(), parsed.headers.len());
            assert!(head.headers.get(header::TRANSFER_ENCODING).is_none());
        }
        Classification::Incomplete => {
            // Only what httparse also finds partial, under the limit, and
            // only while it could still be `GET /api/admin/events`.
            assert_eq!(status, Ok(httparse::Status::Partial));
            assert!(data.len() < MAX_HEAD);
            let expected = b"GET ".iter().chain(EVENTS_PATH.as_bytes());
            assert!(data.iter().zip(expected).all(|(a, b)| a == b));
        }
        Classification::ToHyper(reason) => {
            match reason {
                Reason::Pipelined => {
                    assert!(matches!(status, Ok(httparse::Status::Complete(n)) if n < data.len()));
                }
                Reason::TooLong => {
                    let whole = match status {
                        Ok(httparse::Status::Complete(n)) => n,
                        _ => data.len(),
                    };
                    assert!(whole >= MAX_HEAD);
                }
                Reason::TooManyHeaders => {
                    assert!(status.is_err() || parsed.headers.len() > MAX_HEADERS);
                }
                _ => {}
            }
            // Nothing plain is sent to hyper: a whole GET of exactly the
            // events path, over HTTP/1.1, within the limits, with valid
            // headers and none that asks for a body, a continue or an
            // upgrade, is served directly. (Empty lines before the request
            // line, which httparse skips, are left to hyper on purpose.)
            let plain = data.starts_with(b"GET ")
                && status == Ok(httparse::Status::Complete(data.len()))
                && data.len() <= MAX_HEAD
                && parsed.headers.len() <= MAX_HEADERS
                && parsed.method == Some("GET")
                && parsed.version == Some(1)
                && parsed.path == Some(EVENTS_PATH)
                && parsed.headers.iter().all(|h| {
                    let Ok(name) = http::HeaderName::from_bytes(h.name.as_bytes()) else {
                        return false;
                    };
                    name != header::TRANSFER_ENCODING
                        && name != header::EXPECT
                        && name != header::UPGRADE
                        && (name != header::CONTENT_LENGTH || h.value == b"0")
                        && http::HeaderValue::from_bytes(h.value).is_ok()
                });
            assert!(!plain, "a plain stream request sent to hyper ({reason:?})");
        }
    }
}
