//! SigV4 signing for the JSON protocols, as the AWS SDKs do it: every request gets its own
//! `X-Amz-Date`, a SHA-256 of its own body, a SHA-256 of its canonical request, and the HMAC chain.
//! Same scheme as the load generator's signer (`trent-bench`), kept stateless here: a CLI makes a
//! handful of calls, so caching the per-day signing key would buy nothing and need a lock.

use std::time::{SystemTime, UNIX_EPOCH};

use trent_crypto::digest::{hex, hmac_sha256, sha256};

/// Long-term or temporary credentials.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret and the session token must never reach a log or a panic message.
        write!(f, "Credentials({}, [REDACTED])", self.access_key_id)
    }
}

/// What a signature covers. Header names must be lower case and sorted, values trimmed.
pub(crate) struct Canonical<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    /// Already in canonical form (sorted, URI-encoded).
    pub(crate) query: &'a str,
    pub(crate) headers: &'a [(&'a str, &'a str)],
    pub(crate) payload: &'a [u8],
}

/// The `Authorization` header value for `req`, dated `amz_date` (`YYYYMMDDTHHMMSSZ`).
pub(crate) fn authorization(
    creds: &Credentials,
    region: &str,
    service: &str,
    req: &Canonical<'_>,
    amz_date: &str,
) -> String {
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let scope = format!("{date}/{region}/{service}/aws4_request");

    let mut canonical = String::with_capacity(256);
    for part in [req.method, "\n", req.path, "\n", req.query, "\n"] {
        canonical.push_str(part);
    }
    let mut signed_headers = String::with_capacity(64);
    for (i, (name, value)) in req.headers.iter().enumerate() {
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(value);
        canonical.push('\n');
        if i > 0 {
            signed_headers.push(';');
        }
        signed_headers.push_str(name);
    }
    canonical.push('\n');
    canonical.push_str(&signed_headers);
    canonical.push('\n');
    canonical.push_str(&hex(&sha256(req.payload)));

    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&sha256(canonical.as_bytes()))
    );
    let k_secret = format!("AWS4{}", creds.secret_access_key);
    let k_date = hmac_sha256(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"aws4_request");
    let signature = hex(&hmac_sha256(&k_signing, string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        creds.access_key_id
    )
}

/// `YYYYMMDDTHHMMSSZ` for `t` in UTC, the `X-Amz-Date` format.
pub(crate) fn amz_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`); std has
/// no calendar, and a date crate for one format string is not worth its weight.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// AWS's worked example ("Examples of the complete Signature Version 4 signing process", IAM
    /// ListUsers), typed from the documentation.
    #[test]
    fn aws_documentation_known_answer() {
        let creds = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        let headers = [
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
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
        assert_eq!(
            authorization(&creds, "us-east-1", "iam", &req, "20150830T123600Z"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
        assert!(!format!("{creds:?}").contains("EXAMPLEKEY"));
    }

    #[test]
    fn amz_date_formats_utc() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
        assert_eq!(amz_date(t), "20150830T123600Z");
        assert_eq!(amz_date(UNIX_EPOCH), "19700101T000000Z");
        // A leap day.
        assert_eq!(
            amz_date(UNIX_EPOCH + std::time::Duration::from_secs(951_782_400)),
            "20000229T000000Z"
        );
    }
}
