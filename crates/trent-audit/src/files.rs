//! The trail's files: segment files and the writer's view of them, recovery of the chain head at start-up,
//! the signing key (wrapped under the root key) and its published public half, and private file creation.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::Path;

use trent_crypto::signing::SigningKey;
use trent_crypto::{RootKey, SecretBytes};

use crate::AuditError;
use crate::record::{self, ParsedRecord};

/// Associated data binding the wrapped signing key to its purpose.
const SIGNING_KEY_BINDING: &[u8] = b"trent/audit-signing-key/v1";

/// What the writer needs from its segment file; a trait so that tests can make it fail on demand.
pub(crate) trait SegmentFile: Send {
    /// Writes all of `data` at `offset`.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Makes written data durable (`fdatasync`).
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the file to `len` and makes that durable (closing a segment: drops its unused zeros).
    fn set_len_synced(&mut self, len: u64) -> io::Result<()>;
}

impl SegmentFile for File {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(self, data, offset)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }
    fn set_len_synced(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)?;
        self.sync_all()
    }
}

/// Writes zeros over `[from, to)` of `file`.
pub(crate) fn write_zeros(file: &mut dyn SegmentFile, from: u64, to: u64) -> io::Result<()> {
    static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
    let mut at = from;
    while at < to {
        let n = (to - at).min(ZEROS.len() as u64);
        file.write_at(at, &ZEROS[..n as usize])?;
        at += n;
    }
    Ok(())
}

/// Where the chain stands at start-up.
pub(crate) struct Tail {
    pub(crate) last_segment: u64,
    pub(crate) last_seq: u64,
    pub(crate) head: [u8; 32],
    /// The newest record is a shutdown digest.
    pub(crate) clean: bool,
}

/// Segment numbers in `dir`, ascending.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u64>, AuditError> {
    let mut numbers = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| AuditError::Io(format!("reading {}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| AuditError::Io(format!("reading {}: {e}", dir.display())))?;
        if let Some(n) = entry.file_name().to_str().and_then(record::parse_segment_name) {
            numbers.push(n);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// Finds the chain head in the newest non-empty segment. A partial last line (a crash mid-batch) was never
/// acknowledged to anyone, so it is cut off; the recovery digest that follows records the restart.
pub(crate) fn recover_tail(dir: &Path) -> Result<Tail, AuditError> {
    let segments = list_segments(dir)?;
    let last_segment = segments.last().copied().unwrap_or(0);
    for &n in segments.iter().rev() {
        let path = dir.join(record::segment_name(n));
        let mut bytes = fs::read(&path).map_err(|e| AuditError::Io(format!("reading {}: {e}", path.display())))?;
        // The data ends at the first NUL (the preallocated zeros of a segment whose writer did not close it);
        // anything after is unacknowledged, as is a partial last line.
        let data_end = data_len(&bytes);
        let complete = bytes[..data_end].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if complete < bytes.len() {
            if complete < data_end || bytes[data_end..].iter().any(|&b| b != 0) {
                tracing::warn!(segment = %path.display(), bytes = bytes.len() - complete, "cutting an unacknowledged partial record from the audit trail");
            }
            let f = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
            f.set_len(complete as u64)
                .and_then(|()| f.sync_all())
                .map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
            bytes.truncate(complete);
        }
        let Some(line) = last_line(&bytes[..complete]) else {
            continue;
        };
        let rec = ParsedRecord::parse(line).ok_or_else(|| {
            AuditError::Corrupt(format!(
                "the last record of {} is not readable; run `trent audit verify`",
                path.display()
            ))
        })?;
        return Ok(Tail {
            last_segment,
            last_seq: rec.seq,
            head: record::hash_line(line),
            clean: rec.is_shutdown_digest(),
        });
    }
    Ok(Tail { last_segment, last_seq: 0, head: record::GENESIS, clean: true })
}

/// The last complete line (without its newline) of records that end in a newline; `None` if there is none.
pub(crate) fn last_line(data: &[u8]) -> Option<&[u8]> {
    data.strip_suffix(b"\n")?.rsplit(|&b| b == b'\n').next().filter(|l| !l.is_empty())
}

/// `seq` of the first record of a segment file.
pub(crate) fn first_seq_of(path: &Path) -> Option<u64> {
    use std::io::BufRead as _;
    let mut line = Vec::new();
    std::io::BufReader::new(File::open(path).ok()?).read_until(b'\n', &mut line).ok()?;
    ParsedRecord::parse(line.strip_suffix(b"\n")?).map(|r| r.seq)
}

/// Where a segment's records end: at the first NUL byte (its preallocated zeros), or at its end.
pub(crate) fn data_len(bytes: &[u8]) -> usize {
    bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len())
}

pub(crate) fn load_or_create_signing_key(dir: &Path, root: &RootKey) -> Result<SigningKey, AuditError> {
    let key_path = dir.join(record::SIGNING_KEY_FILE);
    let pub_path = dir.join(record::PUBLIC_KEY_FILE);
    let key = if key_path.exists() {
        let wrapped =
            fs::read(&key_path).map_err(|e| AuditError::Io(format!("reading {}: {e}", key_path.display())))?;
        let pkcs8 = root.unwrap(&wrapped, SIGNING_KEY_BINDING).map_err(|e| {
            AuditError::Key(format!("{} cannot be unwrapped with this root key: {e}", key_path.display()))
        })?;
        SigningKey::from_pkcs8(&pkcs8).map_err(|e| AuditError::Key(format!("{}: {e}", key_path.display())))?
    } else {
        if !list_segments(dir)?.is_empty() {
            // A new key would make every existing digest unverifiable; an operator must look at this.
            return Err(AuditError::Key(format!(
                "{} is missing but the trail has segments; restore the key file",
                key_path.display()
            )));
        }
        let (key, pkcs8): (SigningKey, SecretBytes) =
            SigningKey::generate().map_err(|e| AuditError::Key(format!("cannot generate the signing key: {e}")))?;
        let wrapped = root
            .wrap(&pkcs8, SIGNING_KEY_BINDING)
            .map_err(|e| AuditError::Key(format!("cannot wrap the signing key: {e}")))?;
        write_new_file(&key_path, &wrapped)?;
        key
    };
    let pem = record::public_key_pem(&key.public_key());
    if fs::read_to_string(&pub_path).ok().as_deref() != Some(pem.as_str()) {
        // Published so anyone can verify; derived from the private key, so rewriting it is always safe.
        let tmp = dir.join(format!("{}.tmp", record::PUBLIC_KEY_FILE));
        fs::write(&tmp, pem.as_bytes())
            .and_then(|()| fs::rename(&tmp, &pub_path))
            .map_err(|e| AuditError::Io(format!("writing {}: {e}", pub_path.display())))?;
    }
    Ok(key)
}

pub(crate) fn create_private_dir(dir: &Path) -> Result<(), AuditError> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).map_err(|e| AuditError::Io(format!("creating {}: {e}", dir.display())))
}

/// Creates a new file (mode 0600).
pub(crate) fn open_private(path: &Path) -> Result<File, AuditError> {
    let mut o = OpenOptions::new();
    o.create_new(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path).map_err(|e| AuditError::Io(format!("creating {}: {e}", path.display())))
}

pub(crate) fn write_new_file(path: &Path, data: &[u8]) -> Result<(), AuditError> {
    let mut f = open_private(path)?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(|e| AuditError::Io(format!("writing {}: {e}", path.display())))
}

/// Makes a newly created (or deleted) file's directory entry durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| AuditError::Io(format!("syncing {}: {e}", dir.display())))
}
