//! The canonical request: what a signature covers.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};

/// Everything but RFC 3986's unreserved characters, as SigV4 encodes; `KEEP_SLASH` also leaves '/'.
const SIGV4_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
const SIGV4_ENCODE_KEEP_SLASH: &AsciiSet = &SIGV4_ENCODE.remove(b'/');

/// SigV4 URI encoding: everything but unreserved characters (and '/', unless `encode_slash`), upper-case hex.
pub fn uri_encode(input: &[u8], encode_slash: bool, out: &mut Vec<u8>) {
    let set = if encode_slash { SIGV4_ENCODE } else { SIGV4_ENCODE_KEEP_SLASH };
    for chunk in percent_encode(input, set) {
        out.extend_from_slice(chunk.as_bytes());
    }
}

/// The canonical request, written in SigV4's order: method, URI, query, headers, signed header list, payload
/// hash. Call [`uri`](Self::new)'s parts in that order; [`finish`](Self::finish) returns the bytes to hash.
pub struct CanonicalRequest {
    out: Vec<u8>,
}

impl CanonicalRequest {
    /// Starts with the method and the canonical form of `path` (for every service but S3: normalized, then
    /// each segment URI-encoded, which double-encodes what the client encoded).
    pub fn new(method: &str, path: &str) -> Self {
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(method.as_bytes());
        out.push(b'\n');
        canonical_uri(path, &mut out);
        out.push(b'\n');
        Self { out }
    }

    /// A query string that is already canonical (sorted, strictly encoded), as a signer builds it.
    pub fn canonical_query(mut self, query: &str) -> Self {
        self.out.extend_from_slice(query.as_bytes());
        self.out.push(b'\n');
        self
    }

    /// Decoded query pairs, re-encoded strictly and sorted by encoded name then value; a presigned request's
    /// own `X-Amz-Signature` is left out.
    pub fn query_pairs(mut self, query: &[(Cow<'_, str>, Cow<'_, str>)], presigned: bool) -> Self {
        let mut encoded: Vec<(Vec<u8>, Vec<u8>)> = query
            .iter()
            .filter(|(name, _)| !(presigned && name == "X-Amz-Signature"))
            .map(|(name, value)| {
                let (mut n, mut v) = (Vec::with_capacity(name.len()), Vec::with_capacity(value.len()));
                uri_encode(name.as_bytes(), true, &mut n);
                uri_encode(value.as_bytes(), true, &mut v);
                (n, v)
            })
            .collect();
        encoded.sort_unstable();
        for (i, (name, value)) in encoded.iter().enumerate() {
            if i > 0 {
                self.out.push(b'&');
            }
            self.out.extend_from_slice(name);
            self.out.push(b'=');
            self.out.extend_from_slice(value);
        }
        self.out.push(b'\n');
        self
    }

    /// One signed header, `name` in lower case, in sorted order: its values trimmed (inner runs of white space
    /// collapsed) and joined by commas.
    pub fn header<'v>(&mut self, name: &str, values: impl IntoIterator<Item = &'v [u8]>) -> &mut Self {
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b':');
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            push_trimmed(value, &mut self.out);
        }
        self.out.push(b'\n');
        self
    }

    /// Ends with the signed header list and the payload hash.
    pub fn finish(mut self, signed_headers: &str, payload_hash: &str) -> Vec<u8> {
        self.out.push(b'\n');
        self.out.extend_from_slice(signed_headers.as_bytes());
        self.out.push(b'\n');
        self.out.extend_from_slice(payload_hash.as_bytes());
        self.out
    }
}

/// A header value with leading and trailing whitespace removed and inner runs collapsed to one space.
fn push_trimmed(value: &[u8], out: &mut Vec<u8>) {
    for (i, word) in value.split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty()).enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(word);
    }
}

/// The canonical URI of a non-S3 request: dot segments and empty segments removed, each segment encoded.
fn canonical_uri(path: &str, out: &mut Vec<u8>) {
    // The common case (KMS always posts to "/") needs no normalization.
    if !path.contains("//") && !path.contains("/.") && path.starts_with('/') {
        uri_encode(path.as_bytes(), false, out);
        return;
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    out.push(b'/');
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        uri_encode(segment.as_bytes(), true, out);
    }
    let ends_with_slash = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if ends_with_slash && !segments.is_empty() {
        out.push(b'/');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap_or_default()
    }

    #[test]
    fn canonical_uri_normalizes_and_double_encodes() {
        let cases = [
            ("/", "/"),
            ("", "/"),
            ("/foo/bar", "/foo/bar"),
            ("//foo//bar//", "/foo/bar/"),
            ("/foo/./bar/../baz", "/foo/baz"),
            ("/foo/..", "/"),
            ("/foo/bar/.", "/foo/bar/"),
            ("/example%20space/", "/example%2520space/"),
            ("/-._~", "/-._~"),
        ];
        for (path, want) in cases {
            let mut out = Vec::new();
            canonical_uri(path, &mut out);
            assert_eq!(text(out), want, "{path}");
        }
    }

    #[test]
    fn query_pairs_sort_and_reencode() {
        let pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> =
            form_pairs(&[("b", "2"), ("a", "~ x"), ("a", "1"), ("c", ""), ("Param1", "value 1"), ("e", "/")]);
        let out = CanonicalRequest::new("GET", "/").query_pairs(&pairs, false).finish("", "");
        assert_eq!(text(out), "GET\n/\nParam1=value%201&a=1&a=~%20x&b=2&c=&e=%2F\n\n\n");
    }

    fn form_pairs<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<(Cow<'a, str>, Cow<'a, str>)> {
        pairs.iter().map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v))).collect()
    }

    #[test]
    fn header_values_are_trimmed_collapsed_and_joined() {
        let mut c = CanonicalRequest::new("POST", "/").canonical_query("");
        c.header("x-a", [&b"  a   b \t c  "[..], b"d"]);
        assert_eq!(text(c.finish("x-a", "h")), "POST\n/\n\nx-a:a b c,d\n\nx-a\nh");
    }
}
