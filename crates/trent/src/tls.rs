//! TLS material for the HTTPS listener.
//!
//! Stock AWS clients insist on HTTPS, so a fresh install must serve TLS without an operator
//! first running a PKI. On first start we create a small local CA in the data directory and a
//! server certificate for `localhost`, `127.0.0.1` and `::1` signed by it; clients then trust
//! `ca.pem` (e.g. `aws --ca-bundle`, `AWS_CA_BUNDLE`). The CA rather than a self-signed leaf is
//! what clients pin, so the server certificate can be renewed without reconfiguring them.
//! Operators with their own certificate pass its paths to [`server_config`] instead.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DnType, ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, NameConstraints, PublicKeyData,
};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{RootCertStore, ServerConfig};

const CA_CERT_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca-key.pem";
const SERVER_CERT_FILE: &str = "server.pem";
const SERVER_KEY_FILE: &str = "server-key.pem";

/// Clients are configured to trust the CA by hand, so it should outlive many server renewals.
const CA_VALIDITY: Duration = Duration::from_secs(3650 * 24 * 60 * 60);
/// One year stays under Apple's 825-day cap for certificates from user-installed roots, and
/// renewal is automatic, so a shorter life costs nothing.
const SERVER_VALIDITY: Duration = Duration::from_secs(365 * 24 * 60 * 60);
/// Renew this long before expiry, so a server restarted now and then never serves an expired cert.
const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Backdate notBefore so clients whose clock is slightly behind ours accept a brand-new cert.
const BACKDATE: Duration = Duration::from_secs(60 * 60);

/// Names the generated server certificate is valid for (and the CA is constrained to).
pub(crate) const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Where [`ensure_tls_material`] keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsPaths {
    /// The local CA certificate: what clients must trust.
    pub(crate) ca_cert: PathBuf,
    pub(crate) ca_key: PathBuf,
    /// The server certificate (leaf only) and its key: what [`server_config`] loads.
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

impl TlsPaths {
    fn in_dir(dir: &Path) -> Self {
        Self {
            ca_cert: dir.join(CA_CERT_FILE),
            ca_key: dir.join(CA_KEY_FILE),
            cert: dir.join(SERVER_CERT_FILE),
            key: dir.join(SERVER_KEY_FILE),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io { path: PathBuf, action: &'static str, source: io::Error },
    #[error("{}: {what}: {detail}", path.display())]
    Invalid { path: PathBuf, what: &'static str, detail: String },
    #[error(
        "{} exists but its private key {} is missing, so no server certificate can be issued; \
         restore the key, or remove {} to create a new local CA (clients must then trust the new one)",
        cert.display(), key.display(), cert.display()
    )]
    CaKeyMissing { cert: PathBuf, key: PathBuf },
    #[error("cannot generate the {what}: {source}")]
    Generate { what: &'static str, source: rcgen::Error },
    #[error("TLS certificate {} with key {} rejected: {source}", cert.display(), key.display())]
    Config { cert: PathBuf, key: PathBuf, source: rustls::Error },
}

fn invalid(path: &Path, what: &'static str, detail: impl ToString) -> TlsError {
    TlsError::Invalid { path: path.to_path_buf(), what, detail: detail.to_string() }
}

fn io_err(path: &Path, action: &'static str) -> impl FnOnce(io::Error) -> TlsError + use<> {
    let path = path.to_path_buf();
    move |source| TlsError::Io { path, action, source }
}

/// Makes sure `dir` holds a local CA and a current server certificate signed by it.
///
/// Reuses what is there; issues a new server certificate (keeping the CA, so clients need no
/// change) when it is missing, unreadable, no longer chains to `ca.pem`, or expires within 30 days.
pub(crate) fn ensure_tls_material(dir: &Path) -> Result<TlsPaths, TlsError> {
    // A clock before 1970 makes every certificate look invalid, which ends in a clear error.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    ensure_tls_material_at(dir, now)
}

/// [`ensure_tls_material`] with the current time as a parameter, so tests can move the clock.
fn ensure_tls_material_at(dir: &Path, now: Duration) -> Result<TlsPaths, TlsError> {
    let paths = TlsPaths::in_dir(dir);
    let ca_pem = read_optional(&paths.ca_cert)?;
    if let Some(ca_pem) = &ca_pem {
        // The CA key is not needed here: an operator may keep it offline between renewals.
        if let Some(reason) = server_cert_problem(&paths, ca_pem, now)? {
            tracing::info!(cert = %paths.cert.display(), %reason, "issuing a new server certificate");
        } else {
            tracing::debug!(cert = %paths.cert.display(), "reusing server certificate");
            return Ok(paths);
        }
    }
    let (issuer, ca_not_after) = load_or_create_ca(&paths, ca_pem, now)?;
    issue_server_cert(&paths, &issuer, ca_not_after, now)?;
    Ok(paths)
}

/// Why the stored server certificate cannot be kept, or `None` if it can.
///
/// Checked the way a client would (webpki against `ca.pem`, for every name, `RENEW_BEFORE` from
/// now), which also catches a key that does not match or a CA replaced under it.
fn server_cert_problem(paths: &TlsPaths, ca_pem: &str, now: Duration) -> Result<Option<String>, TlsError> {
    let ca = CertificateDer::from_pem_slice(ca_pem.as_bytes())
        .map_err(|e| invalid(&paths.ca_cert, "no usable CA certificate", e))?;
    let mut roots = RootCertStore::empty();
    roots.add(ca).map_err(|e| invalid(&paths.ca_cert, "CA certificate not usable as a trust anchor", e))?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| invalid(&paths.ca_cert, "CA certificate not usable as a trust anchor", e))?;

    // Our own files: anything wrong with them is repaired by issuing anew.
    let (chain, key) = match load_cert_and_key(&paths.cert, &paths.key) {
        Ok(loaded) => loaded,
        Err(e) => return Ok(Some(e.to_string())),
    };
    if let Err(e) = build_server_config(chain.clone(), key) {
        return Ok(Some(format!("server certificate and key do not match: {e}")));
    }
    let Some((leaf, intermediates)) = chain.split_first() else {
        return Ok(Some("no certificate in server.pem".to_owned()));
    };
    let horizon = UnixTime::since_unix_epoch(now + RENEW_BEFORE);
    for name in SERVER_NAMES {
        let name = ServerName::try_from(name).map_err(|e| invalid(&paths.cert, "bad server name", e))?;
        if let Err(e) = verifier.verify_server_cert(leaf, intermediates, &name, &[], horizon) {
            return Ok(Some(format!("not valid for {name:?} 30 days from now: {e}")));
        }
    }
    Ok(None)
}

/// Loads the CA as an issuer, creating it if absent or about to expire. Also returns its
/// notAfter (seconds since the epoch), which caps the validity of certificates it signs.
fn load_or_create_ca(
    paths: &TlsPaths,
    ca_pem: Option<String>,
    now: Duration,
) -> Result<(Issuer<'static, KeyPair>, Duration), TlsError> {
    let key_pem = read_optional(&paths.ca_key)?;
    let (ca_pem, key_pem) = match (ca_pem, key_pem) {
        (Some(ca_pem), Some(key_pem)) => (ca_pem, key_pem),
        (Some(_), None) => {
            return Err(TlsError::CaKeyMissing { cert: paths.ca_cert.clone(), key: paths.ca_key.clone() });
        }
        // A key without a certificate is a first run that died half-way: nobody can trust
        // a CA whose certificate was never written, so start over.
        (None, _) => return create_ca(paths, now),
    };
    let key = KeyPair::from_pem(&key_pem).map_err(|e| invalid(&paths.ca_key, "not a usable private key", e))?;
    let ca_der = CertificateDer::from_pem_slice(ca_pem.as_bytes())
        .map_err(|e| invalid(&paths.ca_cert, "no usable CA certificate", e))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&ca_der)
        .map_err(|e| invalid(&paths.ca_cert, "cannot parse CA certificate", e))?;
    if parsed.public_key().raw != key.subject_public_key_info().as_slice() {
        return Err(invalid(&paths.ca_key, "key does not belong to the CA certificate", paths.ca_cert.display()));
    }
    let not_after = Duration::from_secs(u64::try_from(parsed.validity().not_after.timestamp()).unwrap_or(0));
    if not_after < now + RENEW_BEFORE {
        tracing::warn!(
            ca = %paths.ca_cert.display(),
            "local CA expires within 30 days; creating a new one: clients must trust the new ca.pem"
        );
        return create_ca(paths, now);
    }
    let issuer = Issuer::from_ca_cert_der(&ca_der, key)
        .map_err(|e| invalid(&paths.ca_cert, "cannot use CA certificate as issuer", e))?;
    Ok((issuer, not_after))
}

fn create_ca(paths: &TlsPaths, now: Duration) -> Result<(Issuer<'static, KeyPair>, Duration), TlsError> {
    let key = generate_key("local CA key")?;
    let mut params = CertificateParams::default();
    // A per-installation suffix keeps CAs of several Trent servers apart in one trust store.
    let id: String = params.key_identifier(&key).iter().take(6).map(|b| format!("{b:02x}")).collect();
    params.distinguished_name.remove(DnType::CommonName);
    params.distinguished_name.push(DnType::CommonName, format!("Trent local CA {id}"));
    params.distinguished_name.push(DnType::OrganizationName, "Trent");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    // The CA key sits on the server's disk and users may add ca.pem to a system trust store;
    // constraining it to loopback names means a leaked key cannot impersonate other sites.
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![
            GeneralSubtree::DnsName("localhost".to_owned()),
            GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8)),
            GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(IpAddr::V6(Ipv6Addr::LOCALHOST), 128)),
        ],
        excluded_subtrees: Vec::new(),
    });
    let not_after = now + CA_VALIDITY;
    set_validity(&mut params, now.saturating_sub(BACKDATE), not_after);
    let cert =
        params.self_signed(&key).map_err(|source| TlsError::Generate { what: "local CA certificate", source })?;
    // Key first: a crash in between leaves a key without a certificate, which the next start
    // recognises as an unfinished first run.
    write_atomic(&paths.ca_key, key.serialize_pem().as_bytes(), 0o600)?;
    write_atomic(&paths.ca_cert, cert.pem().as_bytes(), 0o644)?;
    tracing::info!(ca = %paths.ca_cert.display(), "created local CA; clients must trust this file");
    Ok((Issuer::new(params, key), not_after))
}

fn issue_server_cert(
    paths: &TlsPaths,
    issuer: &Issuer<'_, KeyPair>,
    ca_not_after: Duration,
    now: Duration,
) -> Result<(), TlsError> {
    // A fresh key on every renewal: nothing pins it, and it limits the life of a leaked one.
    let key = generate_key("server key")?;
    let names: Vec<String> = SERVER_NAMES.iter().map(|n| (*n).to_owned()).collect();
    let mut params =
        CertificateParams::new(names).map_err(|source| TlsError::Generate { what: "server certificate", source })?;
    params.distinguished_name.remove(DnType::CommonName);
    params.distinguished_name.push(DnType::CommonName, "localhost");
    params.distinguished_name.push(DnType::OrganizationName, "Trent");
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    // Never outlive the issuer: clients would reject the chain after the CA expires anyway.
    set_validity(&mut params, now.saturating_sub(BACKDATE), (now + SERVER_VALIDITY).min(ca_not_after));
    let cert =
        params.signed_by(&key, issuer).map_err(|source| TlsError::Generate { what: "server certificate", source })?;
    // Key first; a crash in between leaves a mismatched pair that the next start replaces.
    write_atomic(&paths.key, key.serialize_pem().as_bytes(), 0o600)?;
    write_atomic(&paths.cert, cert.pem().as_bytes(), 0o644)?;
    tracing::info!(cert = %paths.cert.display(), "issued server certificate");
    Ok(())
}

fn generate_key(what: &'static str) -> Result<KeyPair, TlsError> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|source| TlsError::Generate { what, source })
}

/// rcgen takes `time::OffsetDateTime`; deriving it from rcgen's own epoch helper avoids a direct
/// dependency on the `time` crate just to name the type.
fn set_validity(params: &mut CertificateParams, not_before: Duration, not_after: Duration) {
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + not_before;
    params.not_after = epoch + not_after;
}

/// Builds the rustls configuration for an HTTPS listener from a PEM certificate chain (leaf
/// first) and its PEM private key: ours from [`ensure_tls_material`] or the operator's own.
pub(crate) fn server_config(cert_path: &Path, key_path: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let (chain, key) = load_cert_and_key(cert_path, key_path)?;
    warn_if_key_readable_by_others(key_path);
    let config = build_server_config(chain, key).map_err(|source| TlsError::Config {
        cert: cert_path.to_path_buf(),
        key: key_path.to_path_buf(),
        source,
    })?;
    Ok(Arc::new(config))
}

fn load_cert_and_key(
    cert_path: &Path,
    key_path: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let chain = CertificateDer::pem_file_iter(cert_path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| invalid(cert_path, "cannot read PEM certificates", e))?;
    if chain.is_empty() {
        return Err(invalid(cert_path, "cannot read PEM certificates", "no CERTIFICATE block found"));
    }
    let key =
        PrivateKeyDer::from_pem_file(key_path).map_err(|e| invalid(key_path, "cannot read PEM private key", e))?;
    Ok((chain, key))
}

fn provider() -> Arc<CryptoProvider> {
    // Explicit, so behaviour does not depend on which provider the process installed as default.
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn build_server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, rustls::Error> {
    // TLS 1.2 stays enabled for older SDKs and OpenSSL builds; with_single_cert checks that
    // the key matches the leaf.
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    // Only HTTP/1.1 is served; advertising h2 would make ALPN-capable clients pick it and fail.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn warn_if_key_readable_by_others(path: &Path) {
    if let Ok(meta) = fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(key = %path.display(), "TLS private key is accessible to group or others; chmod 600 it");
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, TlsError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path, "read")(e)),
    }
}

/// Replaces `path` so that readers see either the old or the new content, never a torn file,
/// even across a crash: temp file in the same directory, fsync, rename, fsync the directory.
fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    let dir = path.parent().ok_or_else(|| invalid(path, "cannot write", "path has no parent directory"))?;
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    // A leftover from a crashed process that had our pid (pid 1 in containers) would block create_new.
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            return Err(io_err(&tmp, "remove stale")(e));
        }
        _ => {}
    }
    let result = (|| {
        // The mode is applied at creation, so a key is never readable by others, not even
        // before its content lands; create_new also refuses to follow a planted symlink.
        let mut file =
            OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp).map_err(io_err(&tmp, "create"))?;
        file.write_all(contents).map_err(io_err(&tmp, "write"))?;
        file.sync_all().map_err(io_err(&tmp, "fsync"))?;
        fs::rename(&tmp, path).map_err(io_err(path, "replace"))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    // Without this the rename itself may be lost on power failure.
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir, "fsync directory"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 60 * 60);

    /// A fresh, empty directory under the system temp dir (no tempfile crate needed).
    pub(crate) fn scratch_dir(tag: &str) -> PathBuf {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("trent-{tag}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn now() -> Duration {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
    }

    #[test]
    fn creates_ca_and_server_cert_with_private_keys() {
        let dir = scratch_dir("tls-create");
        let paths = ensure_tls_material(&dir).unwrap();
        assert_eq!(paths, TlsPaths::in_dir(&dir));
        for file in [&paths.ca_cert, &paths.ca_key, &paths.cert, &paths.key] {
            assert!(file.is_file(), "{} missing", file.display());
        }
        assert_eq!(mode(&paths.ca_key), 0o600);
        assert_eq!(mode(&paths.key), 0o600);
        // No temp files left behind.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 4);
        // Fresh material is judged current by the same check clients would make.
        let ca_pem = fs::read_to_string(&paths.ca_cert).unwrap();
        assert_eq!(server_cert_problem(&paths, &ca_pem, now()).unwrap(), None);
        server_config(&paths.cert, &paths.key).unwrap();
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn second_call_reuses_everything() {
        let dir = scratch_dir("tls-idem");
        let paths = ensure_tls_material(&dir).unwrap();
        let before: Vec<Vec<u8>> =
            [&paths.ca_cert, &paths.ca_key, &paths.cert, &paths.key].map(|p| fs::read(p).unwrap()).into();
        ensure_tls_material(&dir).unwrap();
        let after: Vec<Vec<u8>> =
            [&paths.ca_cert, &paths.ca_key, &paths.cert, &paths.key].map(|p| fs::read(p).unwrap()).into();
        assert_eq!(before, after);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn renews_server_cert_near_expiry_keeping_the_ca() {
        let dir = scratch_dir("tls-renew");
        let start = now();
        let paths = ensure_tls_material_at(&dir, start).unwrap();
        let ca = fs::read(&paths.ca_cert).unwrap();
        let leaf = fs::read(&paths.cert).unwrap();
        // 340 days on, the 365-day leaf is inside the 30-day renewal window.
        ensure_tls_material_at(&dir, start + 340 * DAY).unwrap();
        assert_eq!(fs::read(&paths.ca_cert).unwrap(), ca);
        assert_ne!(fs::read(&paths.cert).unwrap(), leaf);
        let ca_pem = String::from_utf8(ca).unwrap();
        assert_eq!(server_cert_problem(&paths, &ca_pem, start + 340 * DAY).unwrap(), None);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn replaces_ca_near_its_expiry() {
        let dir = scratch_dir("tls-ca-rotate");
        let start = now();
        let paths = ensure_tls_material_at(&dir, start).unwrap();
        let ca = fs::read(&paths.ca_cert).unwrap();
        ensure_tls_material_at(&dir, start + CA_VALIDITY - 10 * DAY).unwrap();
        assert_ne!(fs::read(&paths.ca_cert).unwrap(), ca);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn ca_without_key_is_an_error_once_renewal_is_due() {
        let dir = scratch_dir("tls-nokey");
        let paths = ensure_tls_material(&dir).unwrap();
        fs::remove_file(&paths.ca_key).unwrap();
        // The current server certificate needs no CA key.
        ensure_tls_material(&dir).unwrap();
        fs::remove_file(&paths.cert).unwrap();
        let err = ensure_tls_material(&dir).unwrap_err();
        assert!(matches!(err, TlsError::CaKeyMissing { .. }), "{err}");
        assert!(err.to_string().contains("ca-key.pem"), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_operator_files_are_named_in_errors() {
        let dir = scratch_dir("tls-bad");
        let paths = ensure_tls_material(&dir).unwrap();
        let garbage = dir.join("garbage.pem");
        fs::write(&garbage, "not a certificate").unwrap();
        let err = server_config(&garbage, &paths.key).unwrap_err();
        assert!(err.to_string().contains("garbage.pem"), "{err}");
        let err = server_config(&paths.cert, &garbage).unwrap_err();
        assert!(err.to_string().contains("garbage.pem"), "{err}");
        // A valid key that belongs to another certificate.
        let err = server_config(&paths.cert, &paths.ca_key).unwrap_err();
        assert!(matches!(err, TlsError::Config { .. }), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }
}
