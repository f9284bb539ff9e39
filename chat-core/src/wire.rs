//! Request bodies shared by chat-server and [`crate::HttpClient`], so both sides agree on the
//! wire format by construction.

use serde::{Deserialize, Serialize};

use crate::model::Token;

/// Body of the create and update requests of applications.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NameBody {
    /// The application's name.
    pub name: String,
}

/// Body of the create and update requests of messages.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BodyBody {
    /// The message's text.
    pub body: String,
}

/// Body of the admin jobs' requests.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobScope {
    /// Limit the job to one application.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schema(value_type = Option<String>)]
    pub application: Option<Token>,
}
