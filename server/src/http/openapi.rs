//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document, generated from the
//! route table (`routes.rs`) and the request/response types themselves.

use axum::Json;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ComponentsBuilder, ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Required, ResponseBuilder};

use super::error::Problem;
use super::routes::{Components, endpoints, schema_of};

fn method(name: &str) -> HttpMethod {
    match name {
        "post" => HttpMethod::Post,
        "put" => HttpMethod::Put,
        "patch" => HttpMethod::Patch,
        "delete" => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}

/// Errors every endpoint may answer, besides its own success.
const ERRORS: &[(u16, &str)] = &[
    (400, "malformed input (the detail names the field)"),
    (401, "no, invalid or revoked admin token"),
    (403, "the token's role is not enough"),
    (404, "no such flag, environment, segment, token or key"),
    (409, "stale revision, duplicate key, or still in use"),
    (413, "body larger than FLAGYARD_MAX_BODY_BYTES"),
    (415, "the body is not JSON"),
    (422, "validation failed; `errors` lists each problem with its path"),
];

/// Builds the document.
pub fn document() -> OpenApi {
    let mut components: Components = Vec::new();
    let problem = schema_of::<Problem<'static>>(&mut components);
    let mut paths = Paths::new();
    for e in endpoints() {
        let mut op = OperationBuilder::new()
            .summary(Some(e.summary))
            .operation_id(Some(format!("{}_{}", e.method, e.path.trim_matches('/').replace(['/', '{', '}', '-'], "_"))))
            .description(Some(format!("Requires the `{}` role.", e.role.as_str())))
            .security(SecurityRequirement::new("bearer", Vec::<String>::new()));
        for segment in e.path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let kind = if name == "id" { Type::Integer } else { Type::String };
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(name)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .schema(Some(ObjectBuilder::new().schema_type(kind))),
                );
            }
        }
        if let Some(query) = e.query {
            for p in query() {
                op = op.parameter(p);
            }
        }
        if let Some(body) = e.body {
            let content = ContentBuilder::new().schema(Some(body(&mut components))).build();
            op = op.request_body(Some(
                RequestBodyBuilder::new().content("application/json", content).required(Some(Required::True)).build(),
            ));
        }
        let mut ok = ResponseBuilder::new().description("success");
        if let Some(response) = e.response {
            ok = ok.content("application/json", ContentBuilder::new().schema(Some(response(&mut components))).build());
        }
        op = op.response(e.status.to_string(), ok.build());
        for (status, why) in ERRORS {
            let content = ContentBuilder::new().schema(Some(problem.clone())).build();
            op = op.response(
                status.to_string(),
                ResponseBuilder::new().description(*why).content("application/problem+json", content).build(),
            );
        }
        paths.add_path_operation(format!("/api/v1{}", e.path), vec![method(e.method)], op.build());
    }
    let mut schemas = ComponentsBuilder::new().security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("An admin token")).build(),
        ),
    );
    for (name, schema) in components {
        schemas = schemas.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Flagyard admin API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some("Feature flags, canaries and experiments. Errors are RFC 9457 problem documents.")),
        )
        .paths(paths)
        .components(Some(schemas.build()))
        .build()
}

/// The handler.
pub async fn handler() -> Json<OpenApi> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in `value`.
    fn refs(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| refs(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn documents_every_route_and_resolves_every_schema() {
        let doc = serde_json::to_value(document()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for e in endpoints() {
            let op = &paths[&format!("/api/v1{}", e.path)][e.method];
            assert!(op.is_object(), "{} {} is not documented", e.method, e.path);
            assert!(op["responses"][e.status.to_string()].is_object(), "{} {}", e.method, e.path);
        }
        let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(documented, endpoints().len());
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let name = r.trim_start_matches("#/components/schemas/");
            assert!(schemas.contains_key(name), "dangling reference {r}");
        }
        for name in ["FlagView", "ConfigWrite", "Rule", "Condition", "Operator", "Split", "Problem"] {
            assert!(schemas.contains_key(name), "schema {name} missing");
        }
    }
}
