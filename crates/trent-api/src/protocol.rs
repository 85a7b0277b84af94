//! Which protocol a request speaks, worked out once from its headers, before anything else looks at it.
//!
//! Every later stage (pre-authentication, SigV4's expected service, the operation enum, the audit event's
//! source, the error body's format) takes it from here, so no two stages can disagree about what a request is.

use axum::http::{HeaderMap, Uri};

use crate::{cloudtrail, iam, kms, ssm};

/// The AWS protocols Trent serves on its one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// `X-Amz-Target: TrentService.*` (JSON 1.1). Also anything that names no other protocol: it then fails
    /// authentication or names no KMS operation, with KMS's errors, as AWS's KMS endpoint answers it.
    Kms,
    /// `X-Amz-Target: AmazonSSM.*` (JSON 1.1).
    Ssm,
    /// `X-Amz-Target: [com.amazonaws.cloudtrail.v20131101.]CloudTrail_20131101.*` (JSON 1.1).
    CloudTrail,
    /// A form body without `X-Amz-Target`, signed for `iam` (Query protocol, XML answers).
    Iam,
    /// The same, signed for `sts`.
    Sts,
}

/// A request's protocol and what the signature check needs to know of its credential scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) protocol: Protocol,
    /// IAM and STS only: the scope names `us-east-1`, what the SDKs sign IAM and global STS with whatever
    /// region Trent serves.
    pub(crate) global_scope: bool,
}

impl Route {
    pub(crate) fn of(headers: &HeaderMap, uri: &Uri) -> Self {
        if let Some(service) = iam::query_service(headers, uri) {
            let protocol = if service == iam::STS_SIGNING_NAME { Protocol::Sts } else { Protocol::Iam };
            let global_scope = iam::scope(headers, uri).is_some_and(|(region, _)| region == iam::GLOBAL_REGION);
            return Self { protocol, global_scope };
        }
        let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
        let protocol = if target.starts_with(ssm::TARGET_PREFIX) {
            Protocol::Ssm
        } else if cloudtrail::operation(target).is_some() {
            Protocol::CloudTrail
        } else {
            Protocol::Kms
        };
        Self { protocol, global_scope: false }
    }
}

impl Protocol {
    /// The SigV4 service name the request must be signed for.
    pub(crate) fn signing_name(self) -> &'static str {
        match self {
            Self::Kms => kms::SIGNING_NAME,
            Self::Ssm => ssm::SIGNING_NAME,
            Self::CloudTrail => cloudtrail::SIGNING_NAME,
            Self::Iam => iam::IAM_SIGNING_NAME,
            Self::Sts => iam::STS_SIGNING_NAME,
        }
    }

    /// Query protocol: XML answers and errors.
    pub(crate) fn is_query(self) -> bool {
        matches!(self, Self::Iam | Self::Sts)
    }

    /// CloudTrail's `eventSource` for the protocol's events.
    pub(crate) fn event_source(self) -> &'static str {
        match self {
            Self::Kms => trent_audit::event::KMS_EVENT_SOURCE,
            Self::Ssm => "ssm.amazonaws.com",
            Self::CloudTrail => "cloudtrail.amazonaws.com",
            Self::Iam => "iam.amazonaws.com",
            Self::Sts => "sts.amazonaws.com",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    fn auth(service: &str, region: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIAX/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"
        )
    }

    #[test]
    fn each_protocol_from_its_headers() {
        let uri: Uri = "/".parse().expect("uri");
        let json = "application/x-amz-json-1.1";
        let form = "application/x-www-form-urlencoded; charset=utf-8";
        let cases = [
            (vec![("x-amz-target", "TrentService.Encrypt"), ("content-type", json)], Protocol::Kms),
            (vec![("x-amz-target", "AmazonSSM.GetParameter"), ("content-type", json)], Protocol::Ssm),
            (vec![("x-amz-target", "CloudTrail_20131101.LookupEvents")], Protocol::CloudTrail),
            (
                vec![("x-amz-target", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents")],
                Protocol::CloudTrail,
            ),
            (vec![("content-type", form)], Protocol::Iam),
            (vec![("x-amz-target", "Nothing.Known")], Protocol::Kms),
            (vec![], Protocol::Kms),
        ];
        for (pairs, want) in cases {
            assert_eq!(Route::of(&headers(&pairs), &uri).protocol, want, "{pairs:?}");
        }
        let sts = auth("sts", "us-east-1");
        let route = Route::of(&headers(&[("content-type", form), ("authorization", &sts)]), &uri);
        assert_eq!(route, Route { protocol: Protocol::Sts, global_scope: true });
        let iam = auth("iam", "eu-west-1");
        let route = Route::of(&headers(&[("content-type", form), ("authorization", &iam)]), &uri);
        assert_eq!(route, Route { protocol: Protocol::Iam, global_scope: false });
        // A target wins over a form content type: JSON protocols never come as forms.
        let route = Route::of(&headers(&[("content-type", form), ("x-amz-target", "TrentService.ListKeys")]), &uri);
        assert_eq!(route.protocol, Protocol::Kms);
    }
}
