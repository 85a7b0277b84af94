//! Request quotas: a token bucket per (account, quota), at AWS's default request quotas, so that overload is
//! answered at once with `ThrottlingException` (which every SDK backs off from and retries) instead of queueing
//! until clients time out.
//!
//! The quotas are AWS KMS's defaults (the KMS Developer Guide, "Request quotas"): the cryptographic operations
//! share one quota per account, the asymmetric ones (Sign, Verify, DeriveSharedSecret, GenerateDataKeyPair*) a
//! smaller one, and each management operation has its own. Parameter Store's GetParameter* share 40 per
//! second, CloudTrail's LookupEvents is 2 per second. As in AWS, cross-account requests count against the
//! caller's account. A bucket holds one second of its rate, so a burst of that size passes. Trent cannot know
//! a key's type before dispatch, so Encrypt/Decrypt with an RSA key count against the symmetric quota.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::error::ApiError;

/// AWS's text for KMS ("You have exceeded the rate at which you may call KMS. Reduce the frequency of your
/// calls.").
pub(crate) const THROTTLED_MESSAGE: &str =
    "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.";
/// What Parameter Store and CloudTrail answer.
const RATE_EXCEEDED: &str = "Rate exceeded";

/// Whether and how hard request quotas apply; set by `trent serve --request-quotas` and
/// `--request-quota-scale`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quotas {
    /// No quotas (benchmarks and test suites that create keys by the hundred).
    Off,
    /// AWS's default quotas multiplied by this factor (1.0: AWS's defaults).
    Scaled(f64),
}

impl Default for Quotas {
    fn default() -> Self {
        Self::Scaled(1.0)
    }
}

/// Symmetric cryptographic operations, per account and second.
const SYMMETRIC: f64 = 10_000.0;
/// Asymmetric (RSA and ECC) cryptographic operations.
const ASYMMETRIC: f64 = 1_000.0;

/// The quota an operation counts against: its name (for per-API quotas) and rate per second.
fn kms_quota(op: &str) -> (&'static str, f64) {
    match op {
        "Encrypt"
        | "Decrypt"
        | "ReEncrypt"
        | "GenerateDataKey"
        | "GenerateDataKeyWithoutPlaintext"
        | "GenerateMac"
        | "VerifyMac"
        | "GenerateRandom" => ("cryptographic", SYMMETRIC),
        "Sign" | "Verify" | "DeriveSharedSecret" | "GenerateDataKeyPair" | "GenerateDataKeyPairWithoutPlaintext" => {
            ("cryptographic-asymmetric", ASYMMETRIC)
        }
        "CreateGrant" => ("CreateGrant", 50.0),
        "DescribeKey" => ("DescribeKey", 2_000.0),
        "GetPublicKey" => ("GetPublicKey", 2_000.0),
        "ListResourceTags" => ("ListResourceTags", 2_000.0),
        "GetKeyPolicy" => ("GetKeyPolicy", 1_000.0),
        "GetKeyRotationStatus" => ("GetKeyRotationStatus", 1_000.0),
        "ListAliases" => ("ListAliases", 500.0),
        "ListKeys" => ("ListKeys", 500.0),
        "ListGrants" => ("ListGrants", 100.0),
        "ListKeyPolicies" => ("ListKeyPolicies", 100.0),
        "ListRetirableGrants" => ("ListRetirableGrants", 100.0),
        "RetireGrant" => ("RetireGrant", 30.0),
        "RevokeGrant" => ("RevokeGrant", 30.0),
        "DeleteAlias" => ("DeleteAlias", 15.0),
        "EnableKeyRotation" => ("EnableKeyRotation", 15.0),
        "PutKeyPolicy" => ("PutKeyPolicy", 15.0),
        "ScheduleKeyDeletion" => ("ScheduleKeyDeletion", 15.0),
        "TagResource" => ("TagResource", 10.0),
        "GetParametersForImport" => ("GetParametersForImport", 0.25),
        "CancelKeyDeletion" => ("CancelKeyDeletion", 5.0),
        "CreateAlias" => ("CreateAlias", 5.0),
        "CreateKey" => ("CreateKey", 5.0),
        "DeleteImportedKeyMaterial" => ("DeleteImportedKeyMaterial", 5.0),
        "DisableKey" => ("DisableKey", 5.0),
        "DisableKeyRotation" => ("DisableKeyRotation", 5.0),
        "EnableKey" => ("EnableKey", 5.0),
        "ImportKeyMaterial" => ("ImportKeyMaterial", 5.0),
        "ReplicateKey" => ("ReplicateKey", 5.0),
        "UntagResource" => ("UntagResource", 5.0),
        "UpdateAlias" => ("UpdateAlias", 5.0),
        "UpdateKeyDescription" => ("UpdateKeyDescription", 5.0),
        "UpdatePrimaryRegion" => ("UpdatePrimaryRegion", 5.0),
        // Operations without a published quota (rotation listing, last usage, ...): the read quota's size.
        _ => ("other", 100.0),
    }
}

/// Which service a request is for, for its quota and message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Service {
    Kms,
    Ssm,
    CloudTrail,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The buckets of every (account, quota) seen.
pub(crate) struct Throttle {
    quotas: Quotas,
    /// Account -> quota -> bucket. Looked up by `&str`, so a request allocates nothing once its account is known.
    buckets: Mutex<HashMap<String, HashMap<&'static str, Bucket>>>,
}

/// Bound on accounts with buckets; a full table is cleared (a cleared bucket starts full, which only lets one
/// burst through). Only authenticated callers get here, so this is reached only with that many accounts in use.
const MAX_ACCOUNTS: usize = 100_000;

impl Throttle {
    pub(crate) fn new(quotas: Quotas) -> Self {
        Self { quotas, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token from the caller account's bucket for `op`, or refuses with ThrottlingException.
    pub(crate) fn check(&self, account: &str, service: Service, op: &str) -> Result<(), ApiError> {
        let Quotas::Scaled(scale) = self.quotas else { return Ok(()) };
        let (quota, rate, message) = match service {
            Service::Kms => {
                let (q, r) = kms_quota(op);
                (q, r, THROTTLED_MESSAGE)
            }
            Service::Ssm => match op {
                "GetParameter" | "GetParameters" | "GetParametersByPath" => ("ssm-get", 40.0, RATE_EXCEEDED),
                _ => return Ok(()),
            },
            Service::CloudTrail => match op {
                "LookupEvents" => ("LookupEvents", 2.0, RATE_EXCEEDED),
                _ => return Ok(()),
            },
        };
        let rate = rate * scale;
        // One second's worth, and at least one request, may come at once.
        let capacity = rate.max(1.0);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(account) {
            if buckets.len() >= MAX_ACCOUNTS {
                buckets.clear();
            }
            buckets.insert(account.to_owned(), HashMap::new());
        }
        // Inserted just above, under the same lock; refusing is the fail-closed answer should that ever change.
        let quotas = buckets.get_mut(account).ok_or_else(|| ApiError::Throttling(message.to_owned()))?;
        let bucket = quotas.entry(quota).or_insert(Bucket { tokens: capacity, last: now });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.last).as_secs_f64() * rate).min(capacity);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(ApiError::Throttling(message.to_owned()))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_over_the_quota_is_throttled_per_account_and_quota() {
        // CreateKey's 5 per second scaled by 0.4: two at once, then refused.
        let t = Throttle::new(Quotas::Scaled(0.4));
        t.check("111122223333", Service::Kms, "CreateKey").unwrap();
        t.check("111122223333", Service::Kms, "CreateKey").unwrap();
        let err = t.check("111122223333", Service::Kms, "CreateKey").unwrap_err();
        assert_eq!(err.aws_type(), "ThrottlingException");
        // Other quotas and other accounts have buckets of their own.
        t.check("111122223333", Service::Kms, "Encrypt").unwrap();
        t.check("444455556666", Service::Kms, "CreateKey").unwrap();
        // The bucket refills at the quota's rate: 2 per second.
        std::thread::sleep(std::time::Duration::from_millis(600));
        t.check("111122223333", Service::Kms, "CreateKey").unwrap();
    }

    #[test]
    fn off_never_throttles() {
        let t = Throttle::new(Quotas::Off);
        for _ in 0..1000 {
            t.check("111122223333", Service::Kms, "GetParametersForImport").unwrap();
        }
    }

    #[test]
    fn crypto_operations_share_one_quota() {
        let t = Throttle::new(Quotas::Scaled(0.0002));
        t.check("111122223333", Service::Kms, "Encrypt").unwrap();
        t.check("111122223333", Service::Kms, "Decrypt").unwrap();
        assert!(t.check("111122223333", Service::Kms, "GenerateDataKey").is_err());
        assert_eq!(t.check("111122223333", Service::Ssm, "GetParameter").map(|_| ()).err().map(|e| e.aws_type()), None);
    }
}
