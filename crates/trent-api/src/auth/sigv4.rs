//! Server-side verification of AWS Signature Version 4 (`AWS4-HMAC-SHA256`).
//!
//! Both forms the SDKs produce are accepted: the `Authorization` header, and presigned query strings
//! (`X-Amz-Algorithm`, `X-Amz-Credential`, ...). The canonical request is rebuilt from the request as
//! received, the way botocore and the Rust `aws-sigv4` crate build it for non-S3 services (path
//! normalized and encoded a second time, query decoded, re-encoded and sorted).
//!
//! Checks run in the order AWS's JSON ("Coral") services run them, so a client gets the same first
//! error from Trent as from AWS. That order, and most texts below, are as captured from AWS responses
//! in the comments of the DynamoDB emulator dynalite (`index.js`), a Coral JSON service like KMS; the
//! rest are noted where they are defined.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{AUTHORIZATION, DATE};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use trent_crypto::SecretBytes;
use trent_crypto::digest::{HmacSha256Key, constant_time_eq, hex, sha256};
use trent_sigv4::canonical::CanonicalRequest;
use trent_sigv4::date::{format_amz_date, parse_amz_date};
use trent_sigv4::{ALGORITHM, TERMINATOR, derive_signing_key, signature, string_to_sign};

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
const X_AMZ_DATE: &str = "x-amz-date";
const X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";
const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";

/// AWS accepts requests dated up to 15 minutes either side of its clock.
const MAX_SKEW_SECS: i64 = 15 * 60;
/// SigV4 caps presigned URLs at seven days; a larger X-Amz-Expires is malformed. (Trent honours 15 minutes of
/// it at most: see `check_time`.)
const MAX_PRESIGN_EXPIRES_SECS: i64 = 7 * 24 * 60 * 60;

const MSG_SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. \
     Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// Who signed a request that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VerifiedRequest {
    pub(crate) access_key_id: String,
    /// `X-Amz-Security-Token` as sent (header or query); covered by the signature, not yet validated.
    pub(crate) session_token: Option<String>,
    pub(crate) region: String,
    pub(crate) service: String,
}

/// Why a request was not authenticated. Each variant maps to the AWS error type a client expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthError {
    /// Neither an `Authorization` header nor `X-Amz-Algorithm` in the query string.
    MissingAuthenticationToken,
    /// The signature parameters are malformed or incomplete; the text says which.
    IncompleteSignature(String),
    /// Unknown or inactive access key id, or an unusable session token.
    UnrecognizedClient,
    /// The signature does not match the one computed for the request.
    SignatureDoesNotMatch,
    /// Any other `InvalidSignatureException`: expired, not yet current, wrong scope, unsigned host.
    InvalidSignature(String),
}

impl AuthError {
    pub(crate) fn aws_type(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::IncompleteSignature(_) => "IncompleteSignatureException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::SignatureDoesNotMatch | Self::InvalidSignature(_) => "InvalidSignatureException",
        }
    }

    pub(crate) fn message(&self) -> String {
        match self {
            // Coral JSON services say this; "Missing Authentication Token" is API Gateway's wording.
            Self::MissingAuthenticationToken => "Request is missing Authentication Token".to_owned(),
            Self::IncompleteSignature(m) | Self::InvalidSignature(m) => m.clone(),
            Self::UnrecognizedClient => "The security token included in the request is invalid.".to_owned(),
            Self::SignatureDoesNotMatch => MSG_SIGNATURE_MISMATCH.to_owned(),
        }
    }

    /// JSON-protocol services (KMS, DynamoDB) answer every authentication failure with 400.
    pub(crate) fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.aws_type(), self.message())
    }
}

impl std::error::Error for AuthError {}

/// Verifies SigV4 signatures for one region, caching derived signing keys.
pub(crate) struct SigV4Verifier {
    region: String,
    /// (access key id, date, service) -> the signing key derived for it, with the fingerprint of the secret it
    /// was derived from. Bounded (moka's TinyLFU eviction); an entry idle for two days serves no request.
    cache: moka::sync::Cache<ScopeKey, CachedKey>,
}

#[derive(Clone)]
struct CachedKey {
    /// SHA-256 of the secret the key was derived from, so a replaced secret never reuses a stale key.
    secret_fingerprint: [u8; 32],
    key: Arc<HmacSha256Key>,
}

/// A signing key's scope packed into a fixed buffer (`akid NUL date NUL service`), so that a cache lookup
/// allocates nothing. Scopes too long for it (no access key id or service name Trent issues is) are not cached.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct ScopeKey {
    len: u8,
    bytes: [u8; 62],
}

impl ScopeKey {
    fn new(access_key_id: &str, date: &str, service: &str) -> Option<Self> {
        let mut bytes = [0u8; 62];
        let mut len = 0usize;
        for part in [access_key_id.as_bytes(), &[0], date.as_bytes(), &[0], service.as_bytes()] {
            bytes.get_mut(len..len + part.len())?.copy_from_slice(part);
            len += part.len();
        }
        Some(Self { len: u8::try_from(len).ok()?, bytes })
    }
}

/// Signing keys kept: many more than active access keys times the dates and services they sign for.
const CACHE_CAPACITY: u64 = 20_000;
/// A date's key serves requests dated that day (plus the 15-minute skew): two idle days and it is dead weight.
const CACHE_IDLE: std::time::Duration = std::time::Duration::from_secs(2 * 86_400);

/// The signature parameters, from whichever place the request carried them.
struct SignatureParams<'a> {
    presigned: bool,
    algorithm: Cow<'a, str>,
    credential: Cow<'a, str>,
    signed_headers: Cow<'a, str>,
    signature: Cow<'a, str>,
    /// The request time as sent (ISO 8601 basic, or an HTTP date for the `Date` header).
    date: Cow<'a, str>,
    /// `X-Amz-Expires`, for presigned requests that carry it.
    expires: Option<i64>,
    session_token: Option<Cow<'a, str>>,
}

/// A request that passed every check not needing its body or its secret.
struct Unsigned<'a> {
    params: SignatureParams<'a>,
    /// The request time in ISO 8601 basic format, as the string to sign carries it.
    amz_date: String,
}

fn is_signed(signed_headers: &str, name: &str) -> bool {
    signed_headers.split(';').any(|h| h.eq_ignore_ascii_case(name))
}

impl SigV4Verifier {
    pub(crate) fn new(region: &str) -> Self {
        let cache = moka::sync::Cache::builder().max_capacity(CACHE_CAPACITY).time_to_idle(CACHE_IDLE).build();
        Self { region: region.to_owned(), cache }
    }

    /// Verifies a request signed for `service` in this verifier's region.
    ///
    /// `secret_of` maps an access key id to its secret access key (None = unknown/inactive key); it is
    /// called at most once, and only after the request is otherwise well-formed and current.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn verify(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
        service: &str,
        secret_of: impl FnOnce(&str) -> Option<Arc<SecretBytes>>,
    ) -> Result<VerifiedRequest, AuthError> {
        let query = parse_query(uri.query().unwrap_or(""));
        let Unsigned { params, amz_date } = self.check_unsigned(headers, &query, now, service)?;
        let credential = params.credential.trim_end_matches('/');
        let mut parts = credential.split('/');
        let (access_key_id, scope_date) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));

        let secret = secret_of(access_key_id).ok_or(AuthError::UnrecognizedClient)?;

        let payload_hash = payload_hash(headers, body)?;
        let canonical_request =
            canonical_request(method, uri, headers, &query, params.presigned, &params.signed_headers, &payload_hash);

        let scope = credential.split_once('/').map_or("", |(_, scope)| scope);
        let string_to_sign = string_to_sign(&amz_date, scope, &canonical_request);
        let signing_key = self.signing_key(access_key_id, scope_date, service, &secret);
        let expected = signature(&signing_key, &string_to_sign);
        if !constant_time_eq(expected.as_bytes(), params.signature.as_bytes()) {
            return Err(AuthError::SignatureDoesNotMatch);
        }

        let session_token = match params.session_token {
            None => None,
            Some(t) if t.is_empty() => return Err(AuthError::UnrecognizedClient),
            Some(t) => Some(t.into_owned()),
        };
        Ok(VerifiedRequest {
            access_key_id: access_key_id.to_owned(),
            session_token,
            region: self.region.clone(),
            service: service.to_owned(),
        })
    }

    /// The checks that need neither the body nor the secret, in AWS's order: signature parameters present and
    /// well-formed, request time within the window, credential scope, required headers signed. Run before the
    /// body is read, so a request that cannot authenticate costs no buffering. Returns the access key id.
    pub(crate) fn precheck(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        now: SystemTime,
        service: &str,
    ) -> Result<String, AuthError> {
        let query = parse_query(uri.query().unwrap_or(""));
        let Unsigned { params, .. } = self.check_unsigned(headers, &query, now, service)?;
        let credential = params.credential.trim_end_matches('/');
        Ok(credential.split('/').next().unwrap_or("").to_owned())
    }

    fn check_unsigned<'a>(
        &self,
        headers: &'a HeaderMap,
        query: &'a [(Cow<'a, str>, Cow<'a, str>)],
        now: SystemTime,
        service: &str,
    ) -> Result<Unsigned<'a>, AuthError> {
        let params = match (headers.get(AUTHORIZATION), query_param(query, "X-Amz-Algorithm")) {
            (Some(_), Some(_)) => {
                return Err(AuthError::InvalidSignature(
                    "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
                        .to_owned(),
                ));
            }
            (None, None) => return Err(AuthError::MissingAuthenticationToken),
            (Some(auth), None) => header_params(auth, headers)?,
            (None, Some(_)) => query_params(query)?,
        };

        let now = unix_seconds(now);
        let (amz_date, request_time) = parse_request_date(&params.date)?;
        let amz_date = amz_date.into_owned();
        check_time(&params, &amz_date, request_time, now)?;

        if !params.signed_headers.split(';').any(|h| h.eq_ignore_ascii_case("host")) {
            return Err(AuthError::InvalidSignature(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
            ));
        }
        if params.algorithm != ALGORITHM {
            return Err(AuthError::IncompleteSignature(format!(
                "Unsupported AWS 'algorithm': '{}' (only AWS4-HMAC-SHA256 for now). ",
                params.algorithm
            )));
        }

        let credential = params.credential.trim_end_matches('/');
        let mut parts = credential.split('/');
        let (Some(_), Some(scope_date), Some(scope_region), Some(scope_service), Some(terminator), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::IncompleteSignature(format!(
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, \
                 got '{credential}'"
            )));
        };
        self.check_scope(scope_date, scope_region, scope_service, terminator, service, &amz_date)?;

        // The SDKs sign the session token; an unsigned one could be swapped without breaking the
        // signature. Presigned tokens sit in the query string, which is always signed.
        if !params.presigned
            && headers.contains_key(X_AMZ_SECURITY_TOKEN)
            && !is_signed(&params.signed_headers, X_AMZ_SECURITY_TOKEN)
        {
            // Not a captured AWS text; worded after the 'Host' one above.
            return Err(AuthError::InvalidSignature(
                "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
            ));
        }
        // An unsigned X-Amz-Target lets a captured request be replayed as another operation (an Encrypt as a
        // DisableKey): every x-amz-* header present must be signed, as every SDK signs them (security review
        // finding 11). Content-Type is not required: the AWS SDK for JavaScript v2 never signs it and AWS accepts
        // that, and it cannot change the operation (JSON requests are routed by their signed X-Amz-Target, Query
        // requests by their signed body, and the credential scope binds the service).
        if let Some(name) = headers
            .keys()
            .map(http::HeaderName::as_str)
            .find(|name| name.starts_with("x-amz-") && !is_signed(&params.signed_headers, name))
        {
            // Not a captured AWS text; worded after the 'Host' one above.
            return Err(AuthError::InvalidSignature(format!(
                "'{name}' must be a 'SignedHeader' in the AWS Authorization."
            )));
        }
        Ok(Unsigned { params, amz_date })
    }

    /// All scope errors at once, space-separated, as AWS reports them.
    fn check_scope(
        &self,
        scope_date: &str,
        scope_region: &str,
        scope_service: &str,
        terminator: &str,
        service: &str,
        amz_date: &str,
    ) -> Result<(), AuthError> {
        let mut message = String::new();
        if scope_region != self.region {
            message.push_str(&format!("Credential should be scoped to a valid region, not '{scope_region}'. "));
        }
        if scope_service != service {
            message.push_str(&format!("Credential should be scoped to correct service: '{service}'. "));
        }
        if terminator != TERMINATOR {
            message.push_str(&format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
            ));
        }
        let http_day = amz_date.get(..8).unwrap_or(amz_date);
        if scope_date != http_day {
            message.push_str(&format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: \
                 '{scope_date}' != '{http_day}', from '{amz_date}'."
            ));
        }
        if message.is_empty() { Ok(()) } else { Err(AuthError::InvalidSignature(message)) }
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
    fn signing_key(&self, access_key_id: &str, date: &str, service: &str, secret: &SecretBytes) -> Arc<HmacSha256Key> {
        let fingerprint = sha256(secret.expose_secret());
        let scope = ScopeKey::new(access_key_id, date, service);
        if let Some(entry) = scope.and_then(|k| self.cache.get(&k))
            && constant_time_eq(&entry.secret_fingerprint, &fingerprint)
        {
            return entry.key;
        }
        let key = Arc::new(derive_signing_key(secret.expose_secret(), date, &self.region, service));
        if let Some(scope) = scope {
            self.cache.insert(scope, CachedKey { secret_fingerprint: fingerprint, key: Arc::clone(&key) });
        }
        key
    }
}

/// Parameters from an `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
fn header_params<'a>(auth: &'a HeaderValue, headers: &'a HeaderMap) -> Result<SignatureParams<'a>, AuthError> {
    let Ok(auth) = auth.to_str() else {
        return Err(AuthError::MissingAuthenticationToken);
    };
    let trimmed = auth.trim();
    // AWS treats any scheme other than AWS4-* (e.g. SigV2's "AWS AKID:sig") as no SigV4 token at all.
    if !trimmed.starts_with("AWS4-") {
        return Err(AuthError::MissingAuthenticationToken);
    }
    let (algorithm, rest) = trimmed.split_once(|c: char| c.is_ascii_whitespace()).unwrap_or((trimmed, ""));

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    // AWS splits on commas and whitespace alike, so "Credential= AKID/..." is two tokens, the second
    // without an '='.
    for token in rest.split(|c: char| c == ',' || c.is_ascii_whitespace()).filter(|t| !t.is_empty()) {
        let Some((name, value)) = token.split_once('=') else {
            return Err(AuthError::IncompleteSignature(format!(
                "'{token}' not a valid key=value pair (missing equal-sign) in Authorization header: '{}'.",
                redact_signature(auth)
            )));
        };
        let value = (!value.is_empty()).then_some(value);
        match name {
            "Credential" => credential = value,
            "SignedHeaders" => signed_headers = value,
            "Signature" => signature = value,
            _ => {}
        }
    }

    let date = headers.get(X_AMZ_DATE).or_else(|| headers.get(DATE)).map(|d| d.to_str());
    let mut message = String::new();
    for (present, name) in [
        (credential.is_some(), "Credential"),
        (signature.is_some(), "Signature"),
        (signed_headers.is_some(), "SignedHeaders"),
    ] {
        if !present {
            message.push_str(&format!("Authorization header requires '{name}' parameter. "));
        }
    }
    if date.is_none() {
        message.push_str("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
    }
    let (Some(credential), Some(signed_headers), Some(signature), Some(date)) =
        (credential, signed_headers, signature, date)
    else {
        // AWS echoes the header back; the signature value is left out in case the text gets logged.
        message.push_str("Authorization=");
        message.push_str(&redact_signature(auth));
        return Err(AuthError::IncompleteSignature(message));
    };
    let date = date.map_err(|_| date_format_error("<non-ASCII>"))?;

    let session_token = match headers.get(X_AMZ_SECURITY_TOKEN) {
        None => None,
        Some(v) => Some(Cow::Borrowed(v.to_str().map_err(|_| AuthError::UnrecognizedClient)?)),
    };
    Ok(SignatureParams {
        presigned: false,
        algorithm: Cow::Borrowed(algorithm),
        credential: Cow::Borrowed(credential),
        signed_headers: Cow::Borrowed(signed_headers),
        signature: Cow::Borrowed(signature),
        date: Cow::Borrowed(date),
        expires: None,
        session_token,
    })
}

/// Parameters from a presigned URL's query string.
fn query_params<'a>(query: &[(Cow<'a, str>, Cow<'a, str>)]) -> Result<SignatureParams<'a>, AuthError> {
    let get = |name: &str| query_param(query, name).filter(|v| !v.is_empty()).cloned();
    let algorithm = get("X-Amz-Algorithm");
    let credential = get("X-Amz-Credential");
    let signature = get("X-Amz-Signature");
    let signed_headers = get("X-Amz-SignedHeaders");
    let date = get("X-Amz-Date");

    let mut message = String::new();
    for (present, name) in [
        (algorithm.is_some(), "X-Amz-Algorithm"),
        (credential.is_some(), "X-Amz-Credential"),
        (signature.is_some(), "X-Amz-Signature"),
        (signed_headers.is_some(), "X-Amz-SignedHeaders"),
        (date.is_some(), "X-Amz-Date"),
    ] {
        if !present {
            message.push_str(&format!("AWS query-string parameters must include '{name}'. "));
        }
    }
    let (Some(algorithm), Some(credential), Some(signature), Some(signed_headers), Some(date)) =
        (algorithm, credential, signature, signed_headers, date)
    else {
        message.push_str("Re-examine the query-string parameters.");
        return Err(AuthError::IncompleteSignature(message));
    };

    let expires = match query_param(query, "X-Amz-Expires") {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(secs) if (0..=MAX_PRESIGN_EXPIRES_SECS).contains(&secs) => Some(secs),
            // Not a captured AWS text for JSON services; S3 words its equivalent error this way.
            _ => {
                return Err(AuthError::IncompleteSignature(format!(
                    "X-Amz-Expires must be a number of seconds from 0 to {MAX_PRESIGN_EXPIRES_SECS}; got '{v}'."
                )));
            }
        },
    };

    Ok(SignatureParams {
        presigned: true,
        algorithm,
        credential,
        signed_headers,
        signature,
        date,
        expires,
        session_token: query_param(query, "X-Amz-Security-Token").cloned(),
    })
}

fn date_format_error(got: &str) -> AuthError {
    AuthError::IncompleteSignature(format!(
        "Date must be in ISO-8601 'basic format'. Got '{got}'. See http://en.wikipedia.org/wiki/ISO_8601"
    ))
}

/// The request time in ISO 8601 basic format (as the string to sign carries it) and as Unix seconds.
fn parse_request_date(date: &str) -> Result<(Cow<'_, str>, i64), AuthError> {
    if let Some(secs) = parse_amz_date(date) {
        return Ok((Cow::Borrowed(date), secs));
    }
    // A request dated only by `Date` is signed with its ISO 8601 form.
    if let Some(secs) = parse_http_date(date) {
        return Ok((Cow::Owned(format_amz_date(secs)), secs));
    }
    Err(date_format_error(date))
}

fn check_time(params: &SignatureParams<'_>, amz_date: &str, request_time: i64, now: i64) -> Result<(), AuthError> {
    if request_time > now + MAX_SKEW_SECS {
        return Err(AuthError::InvalidSignature(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
            format_amz_date(now + MAX_SKEW_SECS),
            format_amz_date(now)
        )));
    }
    match params.expires {
        Some(expires) => {
            // JSON and Query services honour a presigned request for 15 minutes at most, whatever X-Amz-Expires
            // says (only S3 honours up to 7 days): a leaked URL must not be a week-long credential.
            let expires = expires.min(MAX_SKEW_SECS);
            if now > request_time + expires {
                // A guess modelled on the clock-skew text: no captured AWS text for an expired presigned
                // request to a JSON service (S3 says "Request has expired").
                return Err(AuthError::InvalidSignature(format!(
                    "Signature expired: {amz_date} is now earlier than {} ({} - {expires} sec.)",
                    format_amz_date(now - expires),
                    format_amz_date(now)
                )));
            }
        }
        None => {
            if request_time < now - MAX_SKEW_SECS {
                return Err(AuthError::InvalidSignature(format!(
                    "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
                    format_amz_date(now - MAX_SKEW_SECS),
                    format_amz_date(now)
                )));
            }
        }
    }
    Ok(())
}

/// The payload hash for the canonical request: always the body's own. Like AWS's non-S3 services, Trent hashes
/// the payload itself, so `UNSIGNED-PAYLOAD` (or any claim that is not the body's hash) cannot verify: a request
/// signed that way could be replayed with another body (security review finding 11).
fn payload_hash<'a>(headers: &'a HeaderMap, body: &[u8]) -> Result<Cow<'a, str>, AuthError> {
    let Some(claimed) = headers.get(X_AMZ_CONTENT_SHA256) else {
        return Ok(Cow::Owned(hex(&sha256(body))));
    };
    if claimed == UNSIGNED_PAYLOAD {
        return Err(AuthError::SignatureDoesNotMatch);
    }
    let computed = hex(&sha256(body));
    // The client signs its own claim; it must also be true of the body, or the body went unsigned.
    match claimed.to_str() {
        Ok(c) if c.eq_ignore_ascii_case(&computed) => Ok(Cow::Borrowed(c)),
        _ => Err(AuthError::SignatureDoesNotMatch),
    }
}

fn canonical_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    query: &[(Cow<'_, str>, Cow<'_, str>)],
    presigned: bool,
    signed_headers: &str,
    payload_hash: &str,
) -> Vec<u8> {
    let mut canonical = CanonicalRequest::new(method.as_str(), uri.path()).query_pairs(query, presigned);
    for name in signed_headers.split(';') {
        let values = headers.get_all(name);
        match (values.iter().next(), uri.authority()) {
            // HTTP/2 carries the host as :authority, which `http` puts in the URI.
            (None, Some(authority)) if name.eq_ignore_ascii_case("host") => {
                canonical.header(name, [authority.as_str().as_bytes()])
            }
            _ => canonical.header(name, values.iter().map(HeaderValue::as_bytes)),
        };
    }
    canonical.finish(signed_headers, payload_hash)
}

/// Splits a raw query string into decoded pairs, as `application/x-www-form-urlencoded` (which is
/// how aws-sigv4 reads it; botocore never sends a bare '+' or unencoded reserved characters).
fn parse_query(raw: &str) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    form_urlencoded::parse(raw.as_bytes()).collect()
}

fn query_param<'q, 'a>(query: &'q [(Cow<'a, str>, Cow<'a, str>)], name: &str) -> Option<&'q Cow<'a, str>> {
    query.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// Replaces the value of `Signature=` so an echoed header never carries a signature.
fn redact_signature(auth: &str) -> Cow<'_, str> {
    let Some(start) = auth.find("Signature=").map(|i| i + "Signature=".len()) else {
        return Cow::Borrowed(auth);
    };
    let end = auth[start..].find([',', ' ', '\t']).map_or(auth.len(), |i| start + i);
    if start == end {
        return Cow::Borrowed(auth);
    }
    Cow::Owned(format!("{}<redacted>{}", &auth[..start], &auth[end..]))
}

fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2),
        Err(_) => 0,
    }
}

/// IMF-fixdate, the `Date` header's form: `Sun, 06 Nov 1994 08:49:37 GMT`.
fn parse_http_date(s: &str) -> Option<i64> {
    let t = httpdate::parse_http_date(s).ok()?;
    i64::try_from(t.duration_since(UNIX_EPOCH).ok()?.as_secs()).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod unit_tests {
    use super::*;

    #[test]
    fn the_date_header_form_parses() {
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"), Some(1_440_938_160));
        assert_eq!(parse_http_date("30 Aug 2015"), None);
    }

    /// The canonical request of a query-string request: what `trent-sigv4`'s own tests cover piece by piece,
    /// here from an `http` request as the verifier sees it (presigned: the signature itself is left out).
    #[test]
    fn canonical_request_from_http_parts() {
        let uri: Uri = "/a//b/?b=2&a=%7E+x&X-Amz-Signature=ff".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("localhost"));
        headers.append("x-amz-meta", HeaderValue::from_static("  one   two "));
        headers.append("x-amz-meta", HeaderValue::from_static("three"));
        let query = parse_query(uri.query().unwrap());
        let c = canonical_request(&Method::GET, &uri, &headers, &query, true, "host;x-amz-meta", "h");
        assert_eq!(
            String::from_utf8(c).unwrap(),
            "GET\n/a/b/\na=~%20x&b=2\nhost:localhost\nx-amz-meta:one two,three\n\nhost;x-amz-meta\nh"
        );
    }

    #[test]
    fn redaction_hides_only_the_signature() {
        assert_eq!(
            redact_signature("AWS4-HMAC-SHA256 Credential=A/b, Signature=abc123, SignedHeaders=host"),
            "AWS4-HMAC-SHA256 Credential=A/b, Signature=<redacted>, SignedHeaders=host"
        );
        assert_eq!(redact_signature("AWS4-HMAC-SHA256 Credential=A/b"), "AWS4-HMAC-SHA256 Credential=A/b");
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;

    #[test]
    fn scope_keys_pack_without_ambiguity_and_refuse_what_does_not_fit() {
        let a = ScopeKey::new("AKIAEXAMPLE", "20260101", "kms").unwrap();
        assert!(a == ScopeKey::new("AKIAEXAMPLE", "20260101", "kms").unwrap());
        assert!(a != ScopeKey::new("AKIAEXAMPLE", "20260102", "kms").unwrap());
        assert!(a != ScopeKey::new("AKIAEXAMPLE", "20260101", "ssm").unwrap());
        // The separators keep "ab"+"c" apart from "a"+"bc".
        assert!(ScopeKey::new("ab", "c", "d").unwrap() != ScopeKey::new("a", "bc", "d").unwrap());
        assert!(ScopeKey::new(&"A".repeat(60), "20260101", "kms").is_none());
    }

    #[test]
    fn a_replaced_secret_never_reuses_the_cached_key() {
        let v = SigV4Verifier::new("us-east-1");
        let (old, new) = (SecretBytes::new(b"old-secret".to_vec()), SecretBytes::new(b"new-secret".to_vec()));
        let k1 = v.signing_key("AKIAEXAMPLE", "20260101", "kms", &old);
        assert!(Arc::ptr_eq(&k1, &v.signing_key("AKIAEXAMPLE", "20260101", "kms", &old)), "cached");
        let k2 = v.signing_key("AKIAEXAMPLE", "20260101", "kms", &new);
        assert!(!Arc::ptr_eq(&k1, &k2));
        let expected = derive_signing_key(new.expose_secret(), "20260101", "us-east-1", "kms");
        assert_eq!(k2.sign(b"m").as_ref(), expected.sign(b"m").as_ref());
        // Too long to cache: still derived, every time.
        let long = "A".repeat(60);
        let k3 = v.signing_key(&long, "20260101", "kms", &old);
        assert!(!Arc::ptr_eq(&k3, &v.signing_key(&long, "20260101", "kms", &old)));
    }
}
