//! The IAM and STS operations Trent implements, named once with what the pipeline needs to know of each: the
//! IAM action that authorizes it and whether CloudTrail records it as read-only. The handler of each is in
//! `ops.rs`; the dispatcher and the audit trail both take the operation from here, so the name a request is
//! recorded under is the one it ran as.

macro_rules! query_operations {
    ($(#[$doc:meta])* $enum:ident, $prefix:literal, { $($name:ident => $access:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum $enum { $($name),+ }

        impl $enum {
            #[cfg_attr(not(test), allow(dead_code, reason = "the table tests walk every operation"))]
            pub(crate) const ALL: &'static [$enum] = &[$($enum::$name),+];

            /// The operation a form body's `Action` names (case-sensitive, as AWS).
            pub(crate) fn from_name(s: &str) -> Option<Self> {
                match s { $(stringify!($name) => Some(Self::$name),)+ _ => None }
            }

            pub(crate) fn name(self) -> &'static str {
                match self { $(Self::$name => stringify!($name)),+ }
            }

            /// The IAM action that authorizes the operation (`iam:CreateUser`), as the Service Authorization
            /// Reference names it.
            #[cfg_attr(not(test), allow(dead_code, reason = "the handlers authorize with the same names"))]
            pub(crate) fn action(self) -> &'static str {
                match self { $(Self::$name => concat!($prefix, ":", stringify!($name))),+ }
            }

            /// CloudTrail's `readOnly`.
            pub(crate) fn is_read_only(self) -> bool {
                match self { $(Self::$name => Access::$access.is_read_only()),+ }
            }
        }
    };
}

/// The Service Authorization Reference's access levels, as far as CloudTrail's `readOnly` depends on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    List,
    Write,
    Tagging,
    PermissionsManagement,
}

impl Access {
    const fn is_read_only(self) -> bool {
        matches!(self, Access::Read | Access::List)
    }
}

query_operations!(
    /// IAM operations (Query protocol, API version 2010-05-08), with their access level.
    IamOperation, "iam", {
        CreateUser => Write,
        GetUser => Read,
        ListUsers => List,
        DeleteUser => Write,
        TagUser => Tagging,
        ListUserTags => List,
        UntagUser => Tagging,
        CreateAccessKey => Write,
        ListAccessKeys => List,
        DeleteAccessKey => Write,
        UpdateAccessKey => Write,
        PutUserPolicy => PermissionsManagement,
        GetUserPolicy => Read,
        ListUserPolicies => List,
        DeleteUserPolicy => PermissionsManagement,
        CreateRole => Write,
        GetRole => Read,
        ListRoles => List,
        DeleteRole => Write,
        PutRolePolicy => PermissionsManagement,
        GetRolePolicy => Read,
        ListRolePolicies => List,
        DeleteRolePolicy => PermissionsManagement,
        TagRole => Tagging,
        ListRoleTags => List,
        UpdateRole => Write,
        UpdateAssumeRolePolicy => PermissionsManagement,
        UntagRole => Tagging,
    }
);

query_operations!(
    /// STS operations (Query protocol, API version 2011-06-15). GetCallerIdentity needs no permission (AWS
    /// answers it even under an explicit Deny); its `action` is the name the reference lists all the same.
    StsOperation, "sts", {
        GetCallerIdentity => Read,
        AssumeRole => Write,
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for op in IamOperation::ALL {
            assert_eq!(IamOperation::from_name(op.name()), Some(*op));
            assert_eq!(op.action(), format!("iam:{}", op.name()));
        }
        for op in StsOperation::ALL {
            assert_eq!(StsOperation::from_name(op.name()), Some(*op));
            assert_eq!(op.action(), format!("sts:{}", op.name()));
        }
        assert_eq!(IamOperation::from_name("createuser"), None);
        assert_eq!(IamOperation::from_name("AssumeRole"), None);
    }

    /// Access levels as the Service Authorization Reference lists them for IAM and STS; CloudTrail marks the
    /// Read and List ones read-only.
    #[test]
    fn read_only_follows_the_access_level() {
        use IamOperation as I;
        let writes = [
            I::CreateUser,
            I::DeleteUser,
            I::TagUser,
            I::UntagUser,
            I::CreateAccessKey,
            I::DeleteAccessKey,
            I::UpdateAccessKey,
            I::PutUserPolicy,
            I::DeleteUserPolicy,
            I::CreateRole,
            I::DeleteRole,
            I::PutRolePolicy,
            I::DeleteRolePolicy,
            I::TagRole,
            I::UntagRole,
            I::UpdateRole,
            I::UpdateAssumeRolePolicy,
        ];
        for op in IamOperation::ALL {
            assert_eq!(op.is_read_only(), !writes.contains(op), "{}", op.name());
            // Every read-only IAM operation is a Get or a List, and no Get or List writes.
            assert_eq!(op.is_read_only(), op.name().starts_with("Get") || op.name().starts_with("List"));
        }
        assert!(StsOperation::GetCallerIdentity.is_read_only());
        assert!(!StsOperation::AssumeRole.is_read_only());
    }
}
