//! The OpenAPI document, generated from the handlers' annotations so it cannot drift from them,
//! then given every constraint the server enforces ([`Constraints`]): the syntax of tokens, the
//! ranges of numbers and page parameters, the lengths and patterns of names, bodies and
//! queries (from chat-core's own constants), and the body shapes (JSON bare or wrapped, and
//! HTML forms).

use chat_core::model::{
    SearchSort, MAX_BODY_BYTES, MAX_LIMIT, MAX_NAME_CHARS, MAX_NUMBER, MAX_QUERY_CHARS,
    NAME_PATTERN, RELEVANCE_WINDOW, TEXT_PATTERN, TOKEN_PATTERN,
};
use serde_json::{json, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{admin, applications, chats, messages, ops, stats, stream};

/// The API's OpenAPI 3 description.
#[derive(OpenApi)]
#[openapi(
    info(title = "chat", description = "Applications own numbered chats; chats own numbered, searchable messages. \
        Every path under /api/v1/applications is also served under /api/v1/chat_applications."),
    paths(
        applications::create, applications::list, applications::show, applications::update,
        applications::delete,
        chats::create, chats::list, chats::show, chats::delete,
        messages::create, messages::create_batch, messages::list, messages::show, messages::update,
        messages::delete, messages::search,
        stream::stream, stats::stream,
        admin::recount, admin::reindex, admin::queue, admin::retry_dead, admin::export,
        ops::health, ops::ready, ops::metrics, ops::openapi,
    ),
    // The `data` of the event streams' events (the streams themselves are strings).
    components(schemas(chat_core::Message, crate::stats::Second)),
    modifiers(&AdminAuth, &Constraints),
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

/// States in the document what the parsers of chat-core enforce. Parameters are recognised by
/// name (`token`, `number`, `message`, `limit`, `after`, `offset`, `query`, `sort`), so every route,
/// present and future, gets the same constraints; request bodies by their schema.
struct Constraints;

impl Modify for Constraints {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let Ok(mut value) = serde_json::to_value(&*doc) else {
            return;
        };
        constrain(&mut value);
        match serde_json::from_value(value) {
            Ok(constrained) => *doc = constrained,
            Err(e) => {
                tracing::error!(error = %e, "cannot add the constraints to the OpenAPI document")
            }
        }
    }
}

fn token_schema() -> Value {
    json!({"type": "string", "pattern": TOKEN_PATTERN, "minLength": 32, "maxLength": 32,
           "description": "32 lowercase hex characters; an unknown or malformed token is a 404"})
}

fn number_schema() -> Value {
    json!({"type": "integer", "format": "int32", "minimum": 1, "maximum": MAX_NUMBER})
}

fn name_schema() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS, "pattern": NAME_PATTERN,
           "description": format!("The application's name: not blank, at most {MAX_NAME_CHARS} \
                characters once surrounding white space is trimmed, no control characters")})
}

fn body_schema() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": MAX_BODY_BYTES, "pattern": TEXT_PATTERN,
           "description": format!("The message's text, kept verbatim: not blank, no NUL, at most \
                {MAX_BODY_BYTES} bytes of UTF-8 (so at most {MAX_BODY_BYTES} characters)")})
}

fn query_schema() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS, "pattern": TEXT_PATTERN})
}

/// The answer of the per-application rate limit (`--rate-limit`).
fn rate_limited() -> Value {
    json!({
        "description": "This application is over its rate limit (`--rate-limit` requests per second)",
        "headers": {"Retry-After": {"description": "Seconds to wait before retrying",
                                    "schema": {"type": "integer", "minimum": 1}}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}})
}

/// `{"type": "object", "required": [field], "properties": {field: schema}}`.
fn object(field: &str, schema: Value) -> Value {
    json!({"type": "object", "required": [field], "properties": {field: schema}})
}

fn constrain(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    schemas["NameBody"]["properties"]["name"] = name_schema();
    schemas["BodyBody"]["properties"]["body"] = body_schema();
    schemas["Application"]["properties"]["token"] = token_schema();
    schemas["JobScope"]["properties"]["application"] = token_schema();
    schemas["MessageDeleted"] = json!({
        "description": "The `data` of a message stream's `event: deleted`: the deleted message's number",
        "type": "object", "required": ["number"], "properties": {"number": number_schema()}});
    let name_ref = json!({"$ref": "#/components/schemas/NameBody"});
    let body_ref = json!({"$ref": "#/components/schemas/BodyBody"});
    schemas["NameRequest"] = json!({
        "description": "`{\"name\": …}`, or wrapped as `{\"application\": {…}}` or `{\"chat_application\": {…}}` (the bare field wins)",
        "anyOf": [name_ref, object("application", name_ref.clone()), object("chat_application", name_ref.clone())]});
    schemas["NameForm"] = json!({
        "description": "`name=…`, `application[name]=…` or `chat_application[name]=…`",
        "anyOf": [object("name", name_schema()), object("application[name]", name_schema()),
                  object("chat_application[name]", name_schema())]});
    schemas["BodyRequest"] = json!({
        "description": "`{\"body\": …}`, or wrapped as `{\"message\": {…}}` (the bare field wins)",
        "anyOf": [body_ref, object("message", body_ref.clone())]});
    schemas["BodyForm"] = json!({
        "description": "`body=…` or `message[body]=…`",
        "anyOf": [object("body", body_schema()), object("message[body]", body_schema())]});

    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            // One handler serves PUT and PATCH: each operation gets its own id.
            if method == "put" {
                if let Some(id) = op["operationId"]
                    .as_str()
                    .and_then(|id| id.strip_prefix("update_"))
                {
                    op["operationId"] = json!(format!("replace_{id}"));
                }
            }
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                for p in params.iter_mut() {
                    constrain_parameter(path, p);
                }
            }
            if let Some(body) = op.get_mut("requestBody") {
                constrain_body(body);
            }
            // The per-application rate limit refuses any request under an application's path.
            if crate::limits::token_of(path).is_some() {
                op["responses"]["429"] = rate_limited();
            }
        }
    }
}

fn constrain_parameter(path: &str, p: &mut Value) {
    let schema = match (p["in"].as_str(), p["name"].as_str()) {
        (Some("path"), Some("token")) => token_schema(),
        (Some("path"), Some("number" | "message")) => number_schema(),
        (Some("query"), Some("limit")) => {
            json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50})
        }
        (Some("query"), Some("offset")) => {
            json!({"type": "integer", "minimum": 0, "maximum": RELEVANCE_WINDOW - 1, "default": 0})
        }
        (Some("query"), Some("sort")) if path.ends_with("/search") => {
            json!({"type": "string", "enum": SearchSort::ALL.map(SearchSort::as_str), "default": "newest"})
        }
        (Some("query"), Some("sort")) => {
            json!({"type": "string", "enum": ["oldest", "newest"], "default": "oldest"})
        }
        // The live stream's resume point: a message number, or 0 for the first message.
        (Some("query"), Some("after")) | (Some("header"), Some("Last-Event-ID"))
            if path.ends_with("/stream") =>
        {
            json!({"type": "integer", "format": "int32", "minimum": 0, "maximum": MAX_NUMBER})
        }
        (Some("query"), Some("after")) if path.ends_with("/applications") => token_schema(),
        (Some("query"), Some("after")) => number_schema(),
        (Some("query"), Some("query")) => {
            p["required"] = json!(true);
            query_schema()
        }
        _ => return,
    };
    p["schema"] = schema;
}

fn constrain_body(body: &mut Value) {
    let Some(content) = body["content"].as_object_mut() else {
        return;
    };
    let json_schema = content
        .get("application/json")
        .map(|c| c["schema"].clone())
        .unwrap_or(Value::Null);
    // A batch is JSON only.
    if json_schema["$ref"] == "#/components/schemas/BatchBody" {
        return;
    }
    let (json_body, form_body) = match json_schema["$ref"].as_str() {
        Some("#/components/schemas/NameBody" | "#/components/schemas/NameRequest") => (
            json!({"$ref": "#/components/schemas/NameRequest"}),
            json!({"$ref": "#/components/schemas/NameForm"}),
        ),
        Some("#/components/schemas/BodyBody" | "#/components/schemas/BodyRequest") => (
            json!({"$ref": "#/components/schemas/BodyRequest"}),
            json!({"$ref": "#/components/schemas/BodyForm"}),
        ),
        // Bodies that are optional objects (an admin job's scope, a chat's creation): the same
        // object as a form.
        _ if json_schema
            .to_string()
            .contains("#/components/schemas/JobScope") =>
        {
            (
                json_schema.clone(),
                json!({"$ref": "#/components/schemas/JobScope"}),
            )
        }
        _ => (json_schema.clone(), json!({"type": "object"})),
    };
    content.insert("application/json".into(), json!({"schema": json_body}));
    content.insert(
        "application/x-www-form-urlencoded".into(),
        json!({"schema": form_body}),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_an_id_of_its_own() {
        let served = serde_json::to_value(ApiDoc::openapi()).expect("serializable");
        let mut ids = Vec::new();
        for (path, item) in served["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("operations") {
                let id = op["operationId"].as_str();
                assert!(id.is_some(), "{method} {path} has no operationId");
                ids.push(id.unwrap_or_default().to_owned());
            }
        }
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count, "operationIds repeat: {ids:?}");
        assert!(
            ids.contains(&"replace_message".to_owned())
                && ids.contains(&"update_message".to_owned())
        );
    }

    /// The operations of every path the per-application rate limit covers.
    fn rate_limited(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            if !path.starts_with("/api/v1/applications/{token}") {
                continue;
            }
            for (method, op) in item.as_object().expect("operations") {
                out.push((method.clone(), path.clone(), op["responses"].clone()));
            }
        }
        out
    }

    #[test]
    fn every_operation_the_rate_limit_covers_lists_429_with_retry_after() {
        let served = serde_json::to_value(ApiDoc::openapi()).expect("serializable");
        let ops = rate_limited(&served);
        assert!(ops.len() >= 15, "{}", ops.len());
        for (method, path, responses) in ops {
            let r = &responses["429"];
            assert!(r.is_object(), "{method} {path} does not list 429");
            assert!(
                r["headers"]["Retry-After"]["schema"]["type"] == "integer",
                "{method} {path}: {r}"
            );
            assert_eq!(
                r["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody"
            );
        }
        // Routes outside an application are not limited, and do not claim to be.
        let create = &served["paths"]["/api/v1/applications"]["post"]["responses"];
        assert!(create["429"].is_null(), "{create}");
    }

    #[test]
    fn event_streams_are_strings_whose_events_name_their_data_schema() {
        let served = serde_json::to_value(ApiDoc::openapi()).expect("serializable");
        let mut streams = 0;
        for (path, item) in served["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("operations") {
                for (status, response) in op["responses"].as_object().expect("responses") {
                    let Some(sse) = response["content"].get("text/event-stream") else {
                        continue;
                    };
                    streams += 1;
                    let at = format!("{method} {path} {status}");
                    assert_eq!(sse["schema"], json!({"type": "string"}), "{at}");
                    assert_eq!(
                        response["content"].as_object().map(|c| c.len()),
                        Some(1),
                        "{at}"
                    );
                    let description = response["description"].as_str().unwrap_or_default();
                    let named: Vec<&str> = description
                        .split("#/components/schemas/")
                        .skip(1)
                        .map(|rest| {
                            rest.split(|c: char| !c.is_ascii_alphanumeric())
                                .next()
                                .unwrap_or_default()
                        })
                        .collect();
                    assert!(
                        !named.is_empty(),
                        "{at}: no data schema named: {description}"
                    );
                    for name in named {
                        assert!(
                            served["components"]["schemas"][name].is_object(),
                            "{at} names {name}, which the document lacks"
                        );
                    }
                }
            }
        }
        assert_eq!(streams, 2, "the messages' stream and the stats stream");
    }

    #[test]
    fn the_constraints_are_in_the_document_and_read_back() {
        let served = serde_json::to_value(ApiDoc::openapi()).expect("serializable");
        assert!(served["components"]["schemas"]["NameRequest"].is_object());
        // Applying them again changes nothing, and the result reads back as a document.
        let mut again = served.clone();
        constrain(&mut again);
        assert_eq!(served, again);
        let doc: utoipa::openapi::OpenApi =
            serde_json::from_value(again).expect("the constrained document reads back");
        assert_eq!(serde_json::to_value(&doc).expect("serializable"), served);
    }
}
