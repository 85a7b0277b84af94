//! The AWS SSM JSON 1.1 protocol, Parameter Store part: `X-Amz-Target: AmazonSSM.<Operation>`, signed for
//! the SigV4 service `ssm`. Every operation reads or writes the parameter store (and may call KMS), so all
//! run on a blocking thread.

mod ops;
mod wire;

use trent_core::service::Caller;
use trent_core::ssm::Ssm;

use crate::error::ApiError;

pub(crate) const TARGET_PREFIX: &str = "AmazonSSM.";
pub(crate) const SIGNING_NAME: &str = "ssm";

macro_rules! operations {
    ($($name:ident),+ $(,)?) => {
        /// The Parameter Store operations Trent implements. The other ~140 SSM operations (documents, run
        /// command, patching...) are out of scope and answer UnknownOperationException.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum Operation { $($name),+ }

        impl Operation {
            pub(crate) fn from_name(s: &str) -> Option<Self> {
                match s { $(stringify!($name) => Some(Self::$name),)+ _ => None }
            }

            pub(crate) fn name(self) -> &'static str {
                match self { $(Self::$name => stringify!($name)),+ }
            }
        }
    };
}

operations!(
    PutParameter,
    GetParameter,
    GetParameters,
    GetParametersByPath,
    DeleteParameter,
    DeleteParameters,
    DescribeParameters,
    GetParameterHistory,
    LabelParameterVersion,
    UnlabelParameterVersion,
    AddTagsToResource,
    RemoveTagsFromResource,
    ListTagsForResource,
);

impl Operation {
    /// CloudTrail's `readOnly`: the Get, Describe and List operations (the Service Authorization Reference's
    /// Read and List access levels).
    pub(crate) fn is_read_only(self) -> bool {
        use Operation as O;
        matches!(
            self,
            O::GetParameter
                | O::GetParameters
                | O::GetParametersByPath
                | O::DescribeParameters
                | O::GetParameterHistory
                | O::ListTagsForResource
        )
    }
}

/// Runs one operation on an authenticated caller's request body; returns the JSON response body.
pub(crate) fn dispatch(ssm: &Ssm, caller: &Caller, op: Operation, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    use Operation as O;
    match op {
        O::PutParameter => ops::put_parameter(ssm, caller, body),
        O::GetParameter => ops::get_parameter(ssm, caller, body),
        O::GetParameters => ops::get_parameters(ssm, caller, body),
        O::GetParametersByPath => ops::get_parameters_by_path(ssm, caller, body),
        O::DeleteParameter => ops::delete_parameter(ssm, caller, body),
        O::DeleteParameters => ops::delete_parameters(ssm, caller, body),
        O::DescribeParameters => ops::describe_parameters(ssm, caller, body),
        O::GetParameterHistory => ops::get_parameter_history(ssm, caller, body),
        O::LabelParameterVersion => ops::label_parameter_version(ssm, caller, body),
        O::UnlabelParameterVersion => ops::unlabel_parameter_version(ssm, caller, body),
        O::AddTagsToResource => ops::add_tags(ssm, caller, body),
        O::RemoveTagsFromResource => ops::remove_tags(ssm, caller, body),
        O::ListTagsForResource => ops::list_tags(ssm, caller, body),
    }
}

#[cfg(test)]
mod tests;
