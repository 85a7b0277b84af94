//! SigV4 signing as the AWS SDKs do it: every request is signed afresh (its own `X-Amz-Date`, a SHA-256 of its
//! own body, a SHA-256 of its canonical request, one HMAC). The only thing reused is the derived signing key,
//! cached per UTC day. Used by Trent's own tools: the Encryption SDK's KMS keyring, `trent encrypt`/`decrypt`
//! and the load generator.

use trent_crypto::digest::{HmacSha256Key, hex, sha256};

use crate::canonical::CanonicalRequest;
pub use crate::date::amz_date;
use crate::{ALGORITHM, TERMINATOR, derive_signing_key, signature, string_to_sign};

/// Long-term or temporary credentials.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret must never reach a log or a panic message.
        write!(f, "Credentials({}, [REDACTED])", self.access_key_id)
    }
}

/// A signer for one credential, region and service. Not shared between threads (the load generator gives each
/// worker its own), so the day cache needs no lock.
pub struct Signer {
    creds: Credentials,
    region: String,
    service: String,
    /// (YYYYMMDD, signing key for that day).
    day_key: Option<(String, HmacSha256Key)>,
}

/// What a signature covers. Header names must be lower case and sorted; values trimmed.
pub struct Canonical<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Already in canonical form (sorted, URI-encoded).
    pub query: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub payload: &'a [u8],
}

impl Signer {
    pub fn new(creds: Credentials, region: &str, service: &str) -> Self {
        Self { creds, region: region.to_owned(), service: service.to_owned(), day_key: None }
    }

    pub fn session_token(&self) -> Option<&str> {
        self.creds.session_token.as_deref()
    }

    /// The `Authorization` header value for `req`, dated `amz_date` (`YYYYMMDDTHHMMSSZ`).
    pub fn authorization(&mut self, req: &Canonical<'_>, amz_date: &str) -> String {
        let date = amz_date.get(..8).unwrap_or(amz_date);
        let scope = format!("{date}/{}/{}/{TERMINATOR}", self.region, self.service);
        let mut canonical = CanonicalRequest::new(req.method, req.path).canonical_query(req.query);
        let mut signed_headers = String::with_capacity(64);
        for (i, (name, value)) in req.headers.iter().enumerate() {
            canonical.header(name, [value.as_bytes()]);
            if i > 0 {
                signed_headers.push(';');
            }
            signed_headers.push_str(name);
        }
        let canonical = canonical.finish(&signed_headers, &hex(&sha256(req.payload)));
        let string_to_sign = string_to_sign(amz_date, &scope, &canonical);
        let signature = signature(self.signing_key(date), &string_to_sign);
        format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.creds.access_key_id
        )
    }

    fn signing_key(&mut self, date: &str) -> &HmacSha256Key {
        if !matches!(&self.day_key, Some((d, _)) if d == date) {
            self.day_key = None;
        }
        let (creds, region, service) = (&self.creds, &self.region, &self.service);
        let (_, key) = self.day_key.get_or_insert_with(|| {
            (date.to_owned(), derive_signing_key(creds.secret_access_key.as_bytes(), date, region, service))
        });
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's worked example ("Examples of the complete Signature Version 4 signing process", IAM ListUsers).
    #[test]
    fn aws_documentation_known_answer() {
        let mut s = Signer::new(
            Credentials {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
                session_token: None,
            },
            "us-east-1",
            "iam",
        );
        let headers = [
            ("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("host", "iam.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
        ];
        let req = Canonical {
            method: "GET",
            path: "/",
            query: "Action=ListUsers&Version=2010-05-08",
            headers: &headers,
            payload: b"",
        };
        let auth = s.authorization(&req, "20150830T123600Z");
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
        // The cached day key must give the same answer on reuse.
        assert_eq!(s.authorization(&req, "20150830T123600Z"), auth);
    }

    #[test]
    fn amz_date_formats_utc() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
        assert_eq!(amz_date(t), "20150830T123600Z");
        assert_eq!(amz_date(std::time::UNIX_EPOCH), "19700101T000000Z");
        // A leap day.
        assert_eq!(amz_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(951_782_400)), "20000229T000000Z");
    }
}
