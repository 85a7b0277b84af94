//! AWS Signature Version 4, the parts that must be the same on both sides: what a signature covers (the
//! canonical request), the string to sign, the signing-key derivation and the `X-Amz-Date` format.
//!
//! The server's verifier (`trent-api`, which adds the request parsing, time and scope checks AWS's services
//! make) and Trent's own signer ([`signer`], used by `trent encrypt`/`decrypt` and the load generator) both
//! build on this crate, so a signature Trent's client makes is by construction one Trent's server checks the
//! same way. The official `aws-sigv4` crate is the test oracle of both (`trent-api`'s tests).
//!
//! No I/O; digests and HMAC come from `trent-crypto`.

pub mod canonical;
pub mod date;
pub mod signer;

use trent_crypto::SecretBytes;
use trent_crypto::digest::{HmacSha256Key, hex, hmac_sha256, sha256};

/// The only algorithm Trent signs and accepts.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The credential scope's last element.
pub const TERMINATOR: &str = "aws4_request";

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
pub fn derive_signing_key(secret: &[u8], date: &str, region: &str, service: &str) -> HmacSha256Key {
    // Held in SecretBytes so the "AWS4"-prefixed copy of the secret is wiped on drop.
    let mut prefixed = Vec::with_capacity(4 + secret.len());
    prefixed.extend_from_slice(b"AWS4");
    prefixed.extend_from_slice(secret);
    let prefixed = SecretBytes::new(prefixed);

    let mut k_date = hmac_sha256(prefixed.expose_secret(), date.as_bytes());
    let mut k_region = hmac_sha256(&k_date, region.as_bytes());
    let mut k_service = hmac_sha256(&k_region, service.as_bytes());
    let mut k_signing = hmac_sha256(&k_service, TERMINATOR.as_bytes());
    let key = HmacSha256Key::new(&k_signing);
    for k in [&mut k_date, &mut k_region, &mut k_service, &mut k_signing] {
        zeroize::Zeroize::zeroize(k);
    }
    key
}

/// `AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex SHA-256 of the canonical request>`; `scope` is
/// `date/region/service/aws4_request`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    let hash = hex(&sha256(canonical_request));
    let mut s = String::with_capacity(ALGORITHM.len() + amz_date.len() + scope.len() + hash.len() + 3);
    for part in [ALGORITHM, "\n", amz_date, "\n", scope, "\n", &hash] {
        s.push_str(part);
    }
    s
}

/// The hex signature of `string_to_sign` under `key`.
pub fn signature(key: &HmacSha256Key, string_to_sign: &str) -> String {
    hex(&key.sign(string_to_sign.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's worked example ("Examples of the complete Signature Version 4 signing process").
    #[test]
    fn derivation_and_string_to_sign_known_answer() {
        let key = derive_signing_key(b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam");
        let canonical = "GET\n/\nAction=ListUsers&Version=2010-05-08\ncontent-type:application/x-www-form-urlencoded; \
                         charset=utf-8\nhost:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;\
                         x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let sts = string_to_sign("20150830T123600Z", "20150830/us-east-1/iam/aws4_request", canonical.as_bytes());
        assert_eq!(
            sts,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n\
             f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        assert_eq!(signature(&key, &sts), "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    }
}
