//! A small checker of responses against the server's OpenAPI document: the operation and its
//! status must be documented, and a JSON body must fit the documented schema (types, required
//! properties, no undocumented property where the schema lists them).

use serde_json::Value;

/// The document and the responses seen so far.
pub struct OpenApiCheck {
    doc: Value,
}

impl OpenApiCheck {
    /// Wraps a fetched `/openapi.json`.
    pub fn new(doc: Value) -> Self {
        OpenApiCheck { doc }
    }

    /// Every `(method, path)` the document lists.
    pub fn operations(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(paths) = self.doc["paths"].as_object() {
            for (path, item) in paths {
                if let Some(item) = item.as_object() {
                    for method in item.keys() {
                        out.push((method.to_uppercase(), path.clone()));
                    }
                }
            }
        }
        out
    }

    /// Checks one observed response; returns what is wrong.
    pub fn check(
        &self,
        method: &str,
        template: &str,
        status: u16,
        body: &Value,
    ) -> Result<(), String> {
        let op = &self.doc["paths"][template][method.to_lowercase()];
        if op.is_null() {
            return Err(format!("{method} {template} is not documented"));
        }
        let response = &op["responses"][status.to_string()];
        if response.is_null() {
            return Err(format!(
                "{method} {template} does not document status {status}"
            ));
        }
        let schema = &response["content"]["application/json"]["schema"];
        if schema.is_null() {
            return Ok(());
        }
        self.fits(schema, body, "$")
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap_or_default();
                &self.doc["components"]["schemas"][name]
            }
            None => schema,
        }
    }

    fn fits(&self, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
        let schema = self.resolve(schema);
        if let Some(options) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
            return if options.iter().any(|o| self.fits(o, v, at).is_ok()) {
                Ok(())
            } else {
                Err(format!(
                    "{at}: {v} fits none of the documented alternatives"
                ))
            };
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => return Ok(()),
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => true,
        });
        if !ok {
            return Err(format!("{at}: {v} is not of type {types:?}"));
        }
        if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
            for (i, item) in arr.iter().enumerate() {
                self.fits(items, item, &format!("{at}[{i}]"))?;
            }
        }
        if let Some(obj) = v.as_object() {
            let props = schema["properties"].as_object();
            for req in schema["required"].as_array().into_iter().flatten() {
                let key = req.as_str().unwrap_or_default();
                if !obj.contains_key(key) {
                    return Err(format!("{at}: required property {key} is missing"));
                }
            }
            if let Some(props) = props {
                for (k, val) in obj {
                    match props.get(k) {
                        Some(p) => self.fits(p, val, &format!("{at}.{k}"))?,
                        None if schema["additionalProperties"] == Value::Bool(false) => {
                            return Err(format!("{at}: property {k} is not documented"))
                        }
                        None => {}
                    }
                }
            }
        }
        Ok(())
    }
}
