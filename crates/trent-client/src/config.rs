//! Where the client finds its endpoint, region and credentials: the standard AWS environment
//! variables and the shared credentials file, in the order the AWS SDKs use.
//!
//! Every lookup goes through an `env` function so tests can supply an environment without touching
//! the process's.

use std::path::PathBuf;

use crate::{Credentials, Error, Result};

/// A parsed `http(s)://host[:port][/]` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub https: bool,
    /// Without brackets for IPv6 literals.
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// Accepts `https://host[:port]` and `http://host[:port]`, with an optional trailing `/`.
    pub fn parse(url: &str) -> Result<Self> {
        let bad = || Error::Config(format!("endpoint {url:?} is not an http(s)://host[:port] URL"));
        let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(bad());
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
            return Err(bad());
        }
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad())?,
                None if after.is_empty() => default_port,
                None => return Err(bad()),
            };
            (h.to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| bad())?),
                None => (authority.to_owned(), default_port),
            }
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Self { https, host, port })
    }

    /// The `Host` header: the port only when it is not the scheme's default (what SigV4 signers and
    /// HTTP clients agree on).
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == if self.https { 443 } else { 80 } { host } else { format!("{host}:{}", self.port) }
    }
}

/// The configured endpoint for KMS: `AWS_ENDPOINT_URL_KMS`, then `AWS_ENDPOINT_URL`; `None` means the
/// regional AWS endpoint.
pub(crate) fn configured_endpoint(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Endpoint>> {
    // botocore lets AWS_IGNORE_CONFIGURED_ENDPOINT_URLS switch the overrides off; honour it likewise.
    if env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    ["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"]
        .into_iter()
        .find_map(|k| env(k).filter(|v| !v.is_empty()))
        .map(|url| Endpoint::parse(&url))
        .transpose()
}

/// `https://kms.<region>.amazonaws.com` (the `.cn` suffix for China regions).
pub(crate) fn regional_endpoint(region: &str) -> Endpoint {
    let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    Endpoint { https: true, host: format!("kms.{region}.{suffix}"), port: 443 }
}

pub(crate) fn region(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    ["AWS_REGION", "AWS_DEFAULT_REGION"].into_iter().find_map(|k| env(k).filter(|v| !v.is_empty()))
}

/// Environment credentials, else the shared credentials file's profile (`AWS_PROFILE` or `default`).
pub(crate) fn credentials(env: &dyn Fn(&str) -> Option<String>) -> Result<Credentials> {
    let id = env("AWS_ACCESS_KEY_ID").filter(|v| !v.is_empty());
    let secret = env("AWS_SECRET_ACCESS_KEY").filter(|v| !v.is_empty());
    if let (Some(access_key_id), Some(secret_access_key)) = (id, secret) {
        return Ok(Credentials {
            access_key_id,
            secret_access_key,
            session_token: env("AWS_SESSION_TOKEN").filter(|v| !v.is_empty()),
        });
    }
    let path = env("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".aws").join("credentials")));
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
    if let Some(path) = path
        && let Ok(text) = std::fs::read_to_string(&path)
        && let Some(creds) = parse_credentials_file(&text, &profile)
    {
        return Ok(creds);
    }
    Err(Error::Config(format!(
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (e.g. eval \"$(trent env)\") \
         or add a [{profile}] profile to ~/.aws/credentials"
    )))
}

/// The three credential keys of `[profile]` in an INI-style credentials file.
fn parse_credentials_file(text: &str, profile: &str) -> Option<Credentials> {
    let mut in_profile = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_profile = name.trim() == profile;
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().to_owned();
            match k.trim() {
                "aws_access_key_id" => id = Some(v),
                "aws_secret_access_key" => secret = Some(v),
                "aws_session_token" => token = Some(v),
                _ => {}
            }
        }
    }
    Some(Credentials { access_key_id: id?, secret_access_key: secret?, session_token: token })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn endpoints_parse() {
        let e = Endpoint::parse("https://127.0.0.1:8443").unwrap();
        assert_eq!((e.https, e.host.as_str(), e.port), (true, "127.0.0.1", 8443));
        assert_eq!(e.host_header(), "127.0.0.1:8443");
        let e = Endpoint::parse("https://kms.us-east-1.amazonaws.com/").unwrap();
        assert_eq!((e.port, e.host_header().as_str()), (443, "kms.us-east-1.amazonaws.com"));
        let e = Endpoint::parse("http://[::1]:80").unwrap();
        assert_eq!((e.https, e.host.as_str(), e.host_header().as_str()), (false, "::1", "[::1]"));
        for bad in ["ftp://x", "https://", "https://h:port", "https://h/path", "https://u@h"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoint_precedence() {
        let env = env_of(&[("AWS_ENDPOINT_URL", "https://a:1"), ("AWS_ENDPOINT_URL_KMS", "https://b:2")]);
        assert_eq!(configured_endpoint(&env).unwrap().unwrap().host, "b");
        let env = env_of(&[("AWS_ENDPOINT_URL", "https://a:1")]);
        assert_eq!(configured_endpoint(&env).unwrap().unwrap().host, "a");
        let env = env_of(&[("AWS_ENDPOINT_URL", "https://a:1"), ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")]);
        assert_eq!(configured_endpoint(&env).unwrap(), None);
        assert_eq!(regional_endpoint("eu-west-1").host, "kms.eu-west-1.amazonaws.com");
    }

    #[test]
    fn credentials_from_env_then_file() {
        let env = env_of(&[("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "SK"), ("AWS_SESSION_TOKEN", "T")]);
        let c = credentials(&env).unwrap();
        assert_eq!((c.access_key_id.as_str(), c.session_token.as_deref()), ("AK", Some("T")));

        let file = "[other]\naws_access_key_id = X\n[default]\n# comment\naws_access_key_id = AK2\naws_secret_access_key=SK2\n";
        let c = parse_credentials_file(file, "default").unwrap();
        assert_eq!((c.access_key_id.as_str(), c.secret_access_key.as_str()), ("AK2", "SK2"));
        assert!(parse_credentials_file(file, "other").is_none());
        let env = env_of(&[("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/trent-test")]);
        assert!(credentials(&env).is_err());
    }
}
