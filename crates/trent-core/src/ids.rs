//! Identifiers: accounts, regions, key ids, ARNs, alias names, and the `KeyRef` every KeyId field parses to.

use std::fmt;

use uuid::Uuid;

use crate::KmsError;

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())).then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where this Trent serves: region and partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region(String);

impl Region {
    /// Region names look like `us-east-1` or `eu-central-2`; anything else is refused at start-up.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && s.contains('-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        ok.then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A KMS key id: a random UUID, globally unique across accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(Uuid);

impl KeyId {
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }

    pub fn parse(s: &str) -> Option<Self> {
        // AWS key ids are the hyphenated lower-case form; accept exactly that.
        let u = Uuid::try_parse(s).ok()?;
        (u.hyphenated().to_string() == s).then_some(Self(u))
    }

    pub fn from_bytes(b: [u8; 16]) -> Self {
        Self(Uuid::from_bytes(b))
    }

    pub fn as_bytes(&self) -> [u8; 16] {
        *self.0.as_bytes()
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

/// `arn:aws:kms:<region>:<account>:key/<id>`.
pub fn key_arn(region: &Region, account: &AccountId, key_id: &KeyId) -> String {
    format!("arn:aws:kms:{region}:{account}:key/{key_id}")
}

/// `arn:aws:kms:<region>:<account>:alias/<name>` (name without the `alias/` prefix is not used: the
/// alias name already starts with `alias/`).
pub fn alias_arn(region: &Region, account: &AccountId, alias: &AliasName) -> String {
    format!("arn:aws:kms:{region}:{account}:{alias}")
}

/// An alias name, always starting with `alias/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AliasName(String);

impl AliasName {
    pub const MAX_LEN: usize = 256;

    /// Parses a name the caller wants to create or point elsewhere: must be `alias/` + allowed characters,
    /// and not in the reserved `alias/aws/` namespace.
    pub fn parse_for_create(s: &str) -> Result<Self, KmsError> {
        let name = Self::parse(s)?;
        if name.0.starts_with("alias/aws/") {
            // AWS answers with an empty NotAuthorizedException (as recorded by moto and local-kms).
            return Err(KmsError::NotAuthorized);
        }
        if name.0.contains(':') {
            // The model's pattern allows ':', but the service refuses it in new alias names.
            return Err(KmsError::Validation(format!("{s} contains invalid characters for an alias")));
        }
        Ok(name)
    }

    /// Parses a name used to look an alias up.
    pub fn parse(s: &str) -> Result<Self, KmsError> {
        let Some(rest) = s.strip_prefix("alias/") else {
            return Err(KmsError::Validation(
                "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html".into(),
            ));
        };
        if rest.is_empty() || s.len() > Self::MAX_LEN || !s.bytes().all(alias_byte_ok) {
            return Err(KmsError::validation_one(
                s,
                "aliasName",
                "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn alias_byte_ok(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'_' | b'-')
}

impl fmt::Display for AliasName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a `KeyId` request field names: the four forms AWS accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    Id(KeyId),
    Arn { region: String, account: String, key_id: KeyId },
    Alias(AliasName),
    AliasArn { region: String, account: String, alias: AliasName },
}

impl KeyRef {
    /// Parses a `KeyId` field. A string that is none of the four forms is a `NotFoundException`, as in AWS.
    pub fn parse(s: &str) -> Result<Self, KmsError> {
        if let Some(id) = KeyId::parse(s) {
            return Ok(Self::Id(id));
        }
        if s.starts_with("alias/") {
            return AliasName::parse(s).map(Self::Alias).map_err(|_| KmsError::invalid_key_id(s));
        }
        if let Some(rest) = s.strip_prefix("arn:aws:kms:") {
            let mut parts = rest.splitn(3, ':');
            let (Some(region), Some(account), Some(resource)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(KmsError::InvalidArn(format!("Invalid arn {s}")));
            };
            if let Some(id) = resource.strip_prefix("key/") {
                let key_id = KeyId::parse(id).ok_or_else(|| KmsError::invalid_key_id(s))?;
                return Ok(Self::Arn { region: region.into(), account: account.into(), key_id });
            }
            if resource.starts_with("alias/") {
                let alias = AliasName::parse(resource).map_err(|_| KmsError::invalid_key_id(s))?;
                return Ok(Self::AliasArn { region: region.into(), account: account.into(), alias });
            }
            return Err(KmsError::InvalidArn(format!("Invalid arn {s}")));
        }
        Err(KmsError::invalid_key_id(s))
    }

    /// True for the forms that name a key directly (no alias), which some operations require.
    pub fn is_key(&self) -> bool {
        matches!(self, Self::Id(_) | Self::Arn { .. })
    }
}

/// Writes the reference back exactly as the caller sent it. Parsing loses nothing: key ids are accepted only in
/// their canonical form, ARNs keep their region and account text as sent, and alias names are kept whole. So
/// AWS's messages that quote the caller's `KeyId` come from the `KeyRef` itself, with no raw string carried
/// beside it that could disagree with it.
impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Arn { region, account, key_id } => write!(f, "arn:aws:kms:{region}:{account}:key/{key_id}"),
            Self::Alias(alias) => write!(f, "{alias}"),
            Self::AliasArn { region, account, alias } => write!(f, "arn:aws:kms:{region}:{account}:{alias}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ref_forms() {
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        assert!(matches!(KeyRef::parse(id), Ok(KeyRef::Id(_))));
        assert!(matches!(
            KeyRef::parse(&format!("arn:aws:kms:us-east-1:111122223333:key/{id}")),
            Ok(KeyRef::Arn { .. })
        ));
        assert!(matches!(KeyRef::parse("alias/my-key"), Ok(KeyRef::Alias(_))));
        assert!(matches!(
            KeyRef::parse("arn:aws:kms:us-east-1:111122223333:alias/my-key"),
            Ok(KeyRef::AliasArn { .. })
        ));
        for bad in ["foo", "1234ABCD-12AB-34CD-56EF-1234567890AB", "alias/", "alias/sp ace", ""] {
            assert!(matches!(KeyRef::parse(bad), Err(KmsError::NotFound(_))), "{bad}");
        }
        assert!(matches!(KeyRef::parse("arn:aws:kms:us-east-1"), Err(KmsError::InvalidArn(_))));
    }

    /// The service quotes the caller's KeyId from the parsed `KeyRef`: every accepted text must come back
    /// unchanged, including odd region and account text in ARNs (the fuzz target `key_ref` checks the same).
    #[test]
    fn key_ref_writes_back_its_input() {
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        for text in [
            id.to_owned(),
            format!("arn:aws:kms:us-east-1:111122223333:key/{id}"),
            format!("arn:aws:kms:::key/{id}"),
            format!("arn:aws:kms:eu:x:key/{id}"),
            "alias/my-key".to_owned(),
            "alias/a:b/c_d-e".to_owned(),
            "arn:aws:kms:us-east-1:111122223333:alias/my-key".to_owned(),
            "arn:aws:kms:zz-9:not-an-account:alias/a:b".to_owned(),
        ] {
            let k = KeyRef::parse(&text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(k.to_string(), text);
        }
    }

    #[test]
    fn alias_rules() {
        assert!(AliasName::parse_for_create("alias/ok_name/-x").is_ok());
        assert!(matches!(AliasName::parse_for_create("alias/a:b"), Err(KmsError::Validation(_))));
        assert!(AliasName::parse("alias/a:b").is_ok());
        assert!(matches!(AliasName::parse_for_create("alias/aws/s3"), Err(KmsError::NotAuthorized)));
        assert!(matches!(AliasName::parse_for_create("noprefix"), Err(KmsError::Validation(_))));
        assert!(matches!(AliasName::parse_for_create("alias/bad name"), Err(KmsError::Validation(_))));
        assert!(AliasName::parse(&format!("alias/{}", "a".repeat(250))).is_ok());
        assert!(AliasName::parse(&format!("alias/{}", "a".repeat(251))).is_err());
    }

    #[test]
    fn region_and_account() {
        assert!(Region::parse("us-east-1").is_some());
        assert!(Region::parse("US-EAST-1").is_none());
        assert!(AccountId::parse("111122223333").is_some());
        assert!(AccountId::parse("11112222333").is_none());
    }
}
