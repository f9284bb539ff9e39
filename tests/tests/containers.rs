//! The container files, checked without a container engine: `compose.yaml` against the real
//! settings of chat-server and chatctl (taken from their `--help`, so a renamed flag or variable
//! breaks this test), its ports, health checks, start order and pinned images; the
//! `Dockerfile`'s stages, user, port and health check, whose command chatctl must accept.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_yaml::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn binaries() -> &'static [PathBuf] {
    static BINARIES: OnceLock<Vec<PathBuf>> = OnceLock::new();
    BINARIES.get_or_init(|| chat_tests::cargo_build(&["chat-server", "chatctl"]))
}

/// A program's settings from its `-h`: each `CHAT_…` variable and, for enumerations, the values
/// it accepts.
struct Settings(BTreeMap<String, Option<Vec<String>>>);

fn settings(binary: &Path) -> Settings {
    let out = Command::new(binary).arg("-h").env_clear().output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    // Wrapped help: one long line, so a bracket split over two lines reads whole.
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut vars = BTreeMap::new();
    for segment in flat.split("[env: ").skip(1) {
        let name: String = segment
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || *c == '_')
            .collect();
        // clap writes `[env: NAME=…] [default: …] [possible values: …]` one after another.
        let after_env = segment.split_once(']').map_or("", |(_, r)| r).trim_start();
        let after_default = match after_env.strip_prefix("[default: ") {
            Some(r) => r.split_once(']').map_or("", |(_, r)| r).trim_start(),
            None => after_env,
        };
        let values = after_default
            .strip_prefix("[possible values: ")
            .and_then(|r| r.split_once(']'))
            .map(|(list, _)| list.split(", ").map(str::to_owned).collect());
        vars.insert(name, values);
    }
    assert!(
        vars.len() >= 3,
        "no settings found in the help of {}:\n{help}",
        binary.display()
    );
    Settings(vars)
}

fn compose() -> Value {
    let text = std::fs::read_to_string(root().join("compose.yaml")).unwrap();
    let mut doc: Value = serde_yaml::from_str(&text).expect("compose.yaml is valid YAML");
    doc.apply_merge().expect("merge keys resolve");
    doc
}

fn dockerfile() -> String {
    std::fs::read_to_string(root().join("Dockerfile")).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

fn service<'a>(doc: &'a Value, name: &str) -> &'a Value {
    let svc = &doc["services"][name];
    assert!(svc.is_mapping(), "compose.yaml has no service {name}");
    svc
}

fn environment(svc: &Value) -> BTreeMap<String, String> {
    svc["environment"]
        .as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let value = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        other => panic!("{k:?}: unexpected value {other:?}"),
                    };
                    (s(k).to_owned(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An image reference as the files write it: `${CHAT_…_IMAGE:-default}` in compose.yaml,
/// `${CHAT_…_IMAGE}` with an `ARG CHAT_…_IMAGE=default` in the Dockerfile. Gives the variable
/// that overrides it and the default.
fn overridable(image: &str, defaults: &BTreeMap<String, String>) -> (String, String) {
    let inner = image
        .strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or_else(|| panic!("image {image} cannot be overridden by a variable"));
    let (var, default) = match inner.split_once(":-") {
        Some((var, default)) => (var.to_owned(), default.to_owned()),
        None => (
            inner.to_owned(),
            defaults
                .get(inner)
                .unwrap_or_else(|| panic!("{inner} has no default"))
                .clone(),
        ),
    };
    assert!(
        var.starts_with("CHAT_") && var.ends_with("_IMAGE"),
        "{image}: variable {var}"
    );
    (var, default)
}

/// The Dockerfile's `ARG NAME=default` lines.
fn dockerfile_args() -> BTreeMap<String, String> {
    dockerfile()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ARG "))
        .filter_map(|a| a.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// `image: NAME:TAG` with a version number in the tag (never `latest` or no tag).
fn assert_pinned(image: &str) {
    let tag = image
        .rsplit('/')
        .next()
        .unwrap()
        .split_once(':')
        .map(|(_, t)| t);
    let pinned = tag.is_some_and(|t| {
        t != "latest" && t.starts_with(|c: char| c.is_ascii_digit()) && t.contains('.')
    });
    assert!(pinned, "image {image} is not pinned to a version");
}

#[test]
fn every_chat_variable_in_compose_is_a_real_setting_with_a_valid_value() {
    let server = settings(&binaries()[0]);
    let ctl = settings(&binaries()[1]);
    let doc = compose();
    for (name, program, settings) in [
        ("api", "chat-server", &server),
        ("worker", "chat-server", &server),
        ("migrate", "chatctl", &ctl),
    ] {
        let env = environment(service(&doc, name));
        assert!(!env.is_empty(), "{name} has no environment");
        for (key, value) in &env {
            assert!(
                key.starts_with("CHAT_"),
                "{name}: {key} is not a chat setting"
            );
            let Some(accepted) = settings.0.get(key) else {
                panic!(
                    "{name}: {key} is not a setting of {program} (its -h lists {:?})",
                    settings.0.keys()
                );
            };
            if let Some(values) = accepted {
                assert!(
                    values.contains(value),
                    "{name}: {key}={value}, {program} accepts {values:?}"
                );
            }
        }
    }
    // The roles, and the settings every process of the profile needs.
    for (name, role) in [("api", "api"), ("worker", "worker")] {
        let env = environment(service(&doc, name));
        assert_eq!(env.get("CHAT_ROLE").map(String::as_str), Some(role));
        for key in [
            "CHAT_DATABASE_URL",
            "CHAT_REDIS_URL",
            "CHAT_ELASTICSEARCH_URL",
        ] {
            assert!(env.contains_key(key), "{name} lacks {key}");
        }
    }
    // The database URL names the MySQL service's own database and user.
    let mysql = environment(service(&doc, "mysql"));
    let expected = format!(
        "mysql://{}:{}@mysql:3306/{}",
        mysql["MYSQL_USER"], mysql["MYSQL_PASSWORD"], mysql["MYSQL_DATABASE"]
    );
    for name in ["api", "worker", "migrate"] {
        assert_eq!(
            environment(service(&doc, name))["CHAT_DATABASE_URL"],
            expected,
            "{name}"
        );
    }
}

#[test]
fn compose_services_start_in_order_behind_health_checks_on_pinned_images() {
    let doc = compose();
    let dockerfile = dockerfile();
    let services = doc["services"].as_mapping().unwrap();
    let built = |svc: &Value| svc.get("build").is_some();
    let mut images = BTreeMap::new();
    for (name, svc) in services {
        let name = s(name);
        let image = s(&svc["image"]);
        if !built(svc) {
            let (var, default) = overridable(image, &BTreeMap::new());
            assert_pinned(&default);
            images.insert(name.to_owned(), (var, default));
        }
        let deps = svc.get("depends_on").and_then(Value::as_mapping);
        for (dep, how) in deps.into_iter().flatten() {
            let target = service(&doc, s(dep));
            match s(&how["condition"]) {
                "service_healthy" => {
                    let own = target["healthcheck"]["test"]
                        .as_sequence()
                        .is_some_and(|t| !t.is_empty());
                    let from_image = built(target) && dockerfile.contains("HEALTHCHECK");
                    assert!(
                        own || from_image,
                        "{name} waits for {dep:?} to be healthy, which has no health check"
                    );
                }
                "service_completed_successfully" => {}
                other => panic!("{name} -> {dep:?}: condition {other}"),
            }
        }
    }
    for name in ["mysql", "redis", "elasticsearch"] {
        assert!(
            service(&doc, name)["healthcheck"]["test"].is_sequence(),
            "{name}"
        );
    }
    // Migrations before traffic: API and workers wait for the one-shot migration.
    for name in ["api", "worker"] {
        assert_eq!(
            s(&service(&doc, name)["depends_on"]["migrate"]["condition"]),
            "service_completed_successfully",
            "{name}"
        );
        for backend in ["mysql", "redis", "elasticsearch"] {
            assert_eq!(
                s(&service(&doc, name)["depends_on"][backend]["condition"]),
                "service_healthy"
            );
        }
    }
    // The versions the profile supports, each replaceable by its variable, and their settings
    // for one host.
    assert_eq!(images["mysql"].0, "CHAT_MYSQL_IMAGE");
    assert!(images["mysql"].1.starts_with("mysql:8."));
    assert_eq!(images["redis"].0, "CHAT_REDIS_IMAGE");
    assert_eq!(images["elasticsearch"].0, "CHAT_SEARCH_IMAGE");
    assert!(images["elasticsearch"].1.contains("elasticsearch:8."));
    let es = service(&doc, "elasticsearch");
    let es_env = environment(es);
    assert_eq!(es_env["discovery.type"], "single-node");
    assert_eq!(es_env["xpack.security.enabled"], "false");
    let redis: Vec<&str> = service(&doc, "redis")["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    assert!(
        redis.windows(2).any(|w| w == ["--appendonly", "yes"]),
        "Redis without AOF: {redis:?}"
    );
}

#[test]
fn the_api_publishes_a_port_range_for_three_replicas_on_its_listening_port() {
    let doc = compose();
    let api = service(&doc, "api");
    let listen = environment(api)["CHAT_LISTEN"].clone();
    let port = listen.rsplit(':').next().unwrap();
    let ports = api["ports"].as_sequence().unwrap();
    assert_eq!(ports.len(), 1);
    let mapping = s(&ports[0]);
    let (host, container) = mapping.rsplit_once(':').unwrap();
    assert_eq!(
        container, port,
        "{mapping} does not reach CHAT_LISTEN {listen}"
    );
    let range = host.rsplit(':').next().unwrap();
    let (lo, hi) = range.split_once('-').expect("a host port range");
    let (lo, hi): (u16, u16) = (lo.parse().unwrap(), hi.parse().unwrap());
    assert!(hi - lo + 1 >= 3, "{mapping}: room for --scale api=3");
    // The worker publishes nothing: only its health check reaches it.
    assert!(service(&doc, "worker").get("ports").is_none());
    // The image listens where it says.
    let file = dockerfile();
    assert!(file.contains(&format!("EXPOSE {port}")), "EXPOSE {port}");
    assert!(file.contains(&format!("CHAT_LISTEN=0.0.0.0:{port}")));
}

#[test]
fn the_dockerfile_builds_in_stages_and_runs_both_binaries_as_a_user_with_a_health_check() {
    let file = dockerfile();
    let lines: Vec<&str> = file.lines().map(str::trim).collect();
    let froms: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("FROM "))
        .copied()
        .collect();
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    let args = dockerfile_args();
    let mut vars = Vec::new();
    for from in &froms {
        let (var, default) = overridable(from.split_whitespace().nth(1).unwrap(), &args);
        assert_pinned(&default);
        vars.push(var);
    }
    assert_eq!(vars, ["CHAT_BUILDER_IMAGE", "CHAT_RUNTIME_IMAGE"]);
    // The dependency layer: manifests copied and built before the sources.
    let deps = lines
        .iter()
        .position(|l| l.contains("image-build deps"))
        .expect("a dependency step");
    let sources = lines
        .iter()
        .position(|l| *l == "COPY . .")
        .expect("the sources");
    assert!(deps < sources);
    // The runtime stage: a user that is not root, the binaries' layout from the build script.
    let runtime = &lines[lines.iter().rposition(|l| l.starts_with("FROM ")).unwrap()..];
    let user = runtime
        .iter()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER");
    assert!(user != "root" && user != "0", "USER {user}");
    let script = std::fs::read_to_string(root().join("scripts/image-build")).unwrap();
    assert!(
        script.contains("\"$from/chat-server\" \"$from/chatctl\""),
        "both binaries are laid out"
    );
    assert!(runtime
        .iter()
        .any(|l| l.starts_with("ENTRYPOINT [\"chat-server\"]")));

    // The health check's command and the migration's are accepted by chatctl: pointed at a
    // port where nothing listens, the health check fails its one request (1) and the
    // migration finds the server unavailable (5) — neither is a usage error (2).
    let health_line = runtime
        .iter()
        .find(|l| l.starts_with("CMD ["))
        .expect("HEALTHCHECK … CMD");
    assert!(file.contains("HEALTHCHECK"));
    let health: Vec<String> = serde_json::from_str(health_line.trim_start_matches("CMD ")).unwrap();
    assert_eq!(health[0], "chatctl");
    assert!(health.contains(&"health".to_owned()), "{health:?}");
    let doc = compose();
    let migrate: Vec<String> = service(&doc, "migrate")["entrypoint"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| s(v).to_owned())
        .collect();
    for (command, code) in [(&health, 1), (&migrate, 5)] {
        let out = Command::new(&binaries()[1])
            .args(&command[1..])
            .env_clear()
            .env("CHAT_SERVER", "http://127.0.0.1:1")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{command:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_build_passes_the_dockerfiles_image_arguments_with_the_same_defaults() {
    let doc = compose();
    let args = dockerfile_args();
    assert!(dockerfile().contains("VOLUME /var/lib/chat"));
    for name in ["migrate", "api", "worker"] {
        let svc = service(&doc, name);
        // The image's data folder, a VOLUME, is a tmpfs here: no anonymous volume outlives
        // `down -v` (podman-compose leaves those behind).
        assert_eq!(s(&svc["tmpfs"][0]), "/var/lib/chat", "{name}");
        let build = &svc["build"];
        assert_eq!(s(&build["context"]), ".", "{name}");
        for var in ["CHAT_BUILDER_IMAGE", "CHAT_RUNTIME_IMAGE"] {
            let (from, default) = overridable(s(&build["args"][var]), &BTreeMap::new());
            assert_eq!(from, var, "{name}: build argument {var}");
            assert_eq!(default, args[var], "{name}: {var}'s default");
        }
    }
}

#[test]
fn podmans_override_publishes_each_api_replica_on_its_listening_port_outside_a_pod() {
    let text = std::fs::read_to_string(root().join("compose.podman.yaml")).unwrap();
    // `!override` is podman-compose's tag: read the document without it.
    let doc: Value = serde_yaml::from_str(&text.replace("!override ", "")).unwrap();
    assert!(
        text.contains("ports: !override"),
        "the ports replace compose.yaml's"
    );
    assert_eq!(doc["x-podman"]["in_pod"], Value::Bool(false));
    let services = doc["services"].as_mapping().unwrap();
    assert_eq!(services.len(), 1, "only the API's ports differ");
    let listen = environment(service(&compose(), "api"))["CHAT_LISTEN"].clone();
    let port = listen.rsplit(':').next().unwrap();
    let ports = doc["services"]["api"]["ports"].as_sequence().unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(s(&ports[0]), format!("127.0.0.1::{port}"));
}
