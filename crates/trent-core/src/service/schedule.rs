//! What the scheduler will do and when: for the operator command `trent admin schedule`.

use super::Kms;
use crate::KmsError;
use crate::ids::key_arn;
use crate::model::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// The end of a key's pending-deletion window: its material is destroyed.
    Deletion,
    /// An automatic rotation.
    Rotation,
    /// Imported material reaching its ValidTo.
    MaterialExpiry,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deletion => "deletion",
            Self::Rotation => "rotation",
            Self::MaterialExpiry => "material-expiry",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ScheduledJob {
    pub due: Timestamp,
    pub kind: JobKind,
    pub key_arn: String,
}

impl Kms {
    /// Every scheduled deletion, rotation and material expiry, earliest first (overdue ones included: the
    /// scheduler runs them at its next tick).
    pub fn scheduled_jobs(&self) -> Result<Vec<ScheduledJob>, KmsError> {
        let mut jobs = Vec::new();
        let sources: [(JobKind, Vec<crate::ids::KeyId>); 3] = [
            (JobKind::Deletion, self.store.keys_due_for_deletion(i64::MAX)?),
            (JobKind::Rotation, self.store.keys_due_for_rotation(i64::MAX)?),
            (JobKind::MaterialExpiry, self.store.keys_with_expiring_material(i64::MAX)?),
        ];
        for (kind, ids) in sources {
            for id in ids {
                let Some(k) = self.store.key(&id)? else { continue };
                let due = match kind {
                    JobKind::Deletion => k.deletion_date,
                    JobKind::Rotation => k.rotation.map(|r| r.next),
                    JobKind::MaterialExpiry => k.next_material_expiry(),
                };
                if let Some(due) = due {
                    jobs.push(ScheduledJob { due, kind, key_arn: key_arn(&k.region, &k.account, &k.key_id) });
                }
            }
        }
        jobs.sort_by_key(|j| j.due);
        Ok(jobs)
    }
}
