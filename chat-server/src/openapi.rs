//! The OpenAPI document, generated from the handlers' annotations so it cannot drift from them.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{admin, applications, chats, messages, ops, stream};

/// The API's OpenAPI 3 description.
#[derive(OpenApi)]
#[openapi(
    info(title = "chat", description = "Applications own numbered chats; chats own numbered, searchable messages. \
        Every path under /api/v1/applications is also served under /api/v1/chat_applications."),
    paths(
        applications::create, applications::list, applications::show, applications::update,
        chats::create, chats::list, chats::show,
        messages::create, messages::list, messages::show, messages::update, messages::search,
        stream::stream,
        admin::recount, admin::reindex, admin::queue, admin::retry_dead,
        ops::health, ops::ready, ops::metrics, ops::openapi,
    ),
    modifiers(&AdminAuth),
)]
pub struct ApiDoc;

struct AdminAuth;

impl Modify for AdminAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
