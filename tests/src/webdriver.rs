//! A small W3C WebDriver client over reqwest, enough to drive a headless Chromium through
//! `chromedriver`: sessions, navigation, elements (find, click, type, read), scripts,
//! screenshots and dialog detection.
//!
//! [`Driver::start`] runs the `chromedriver` named by `CHAT_TEST_CHROMEDRIVER`
//! (`tests/services/services.sh start browser` installs it; `… env` exports it) on a free
//! port of 127.0.0.1, in a process group of its own that is killed with the driver, so no
//! browser outlives its test. Without the variable the test fails, never skips.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

/// Headless Chromium's narrowest window; narrower viewports are emulated.
const MIN_WINDOW_WIDTH: u32 = 500;

/// The key of an element reference in the protocol.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// An error answer of the driver (`error` is the protocol's code, e.g. `no such element`).
#[derive(Debug, Clone)]
pub struct WebDriverError {
    /// The protocol's error code.
    pub error: String,
    /// The driver's explanation.
    pub message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

/// A `chromedriver` process.
pub struct Driver {
    child: Child,
    url: String,
    http: reqwest::Client,
    profiles: tempfile::TempDir,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it listens.
    pub fn start() -> Driver {
        let program = std::env::var("CHAT_TEST_CHROMEDRIVER").unwrap_or_else(|_| {
            panic!(
                "CHAT_TEST_CHROMEDRIVER is not set: install Chromium and chromedriver with \
                 `tests/services/services.sh start browser` and export the variables with \
                 `eval \"$(tests/services/services.sh env)\"`"
            )
        });
        let mut child = Command::new(&program)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let mut lines = BufReader::new(child.stdout.take().expect("chromedriver's stdout"));
        let mut port = None;
        let mut line = String::new();
        while port.is_none() && lines.read_line(&mut line).unwrap_or(0) > 0 {
            port = line
                .split("started successfully on port ")
                .nth(1)
                .and_then(|p| p.trim().trim_end_matches('.').parse::<u16>().ok());
            line.clear();
        }
        let port = port.unwrap_or_else(|| panic!("{program} did not say which port it listens on"));
        // Keep reading what it prints, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while lines.read_line(&mut sink).unwrap_or(0) > 0 {
                sink.clear();
            }
        });
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            profiles: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A new headless Chromium session with a fresh profile and a `width`×`height` viewport
    /// (a window, or a phone's screen when narrower than a window can be).
    pub async fn session(&self, width: u32, height: u32) -> Session {
        let chromium =
            std::env::var("CHAT_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let profile = tempfile::tempdir_in(self.profiles.path()).expect("profile dir");
        let args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-gpu".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-breakpad".to_owned(),
            "--disable-crash-reporter".to_owned(),
            "--hide-scrollbars".to_owned(),
            "--force-device-scale-factor=1".to_owned(),
            "--force-color-profile=srgb".to_owned(),
            format!("--window-size={},{height}", width.max(MIN_WINDOW_WIDTH)),
            format!("--user-data-dir={}", profile.keep().display()),
        ];
        let mut options = json!({"binary": chromium, "args": args});
        if width < MIN_WINDOW_WIDTH {
            // Narrower than a window can be: a phone's screen, emulated.
            options["mobileEmulation"] = json!({"deviceMetrics": {
                "width": width, "height": height, "pixelRatio": 1.0, "mobile": true, "touch": true,
            }});
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            // Leave dialogs open, so a test can see whether the page raised one.
            "unhandledPromptBehavior": "ignore",
            "goog:chromeOptions": options,
        }}});
        let started = post(&self.http, &format!("{}/session", self.url), caps)
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start Chromium: {e}"));
        let id = started["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        Session {
            http: self.http.clone(),
            base: format!("{}/session/{id}", self.url),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The driver's group: chromedriver and every browser process it started. The group
        // goes after `--`: procps-ng 4.0's kill reads `-KILL -1234` as options and signals
        // pid -1, every process there is.
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn answer(response: reqwest::Response) -> Result<Value, WebDriverError> {
    let ok = response.status().is_success();
    let body: Value = response.json().await.map_err(|e| WebDriverError {
        error: "bad answer".into(),
        message: e.to_string(),
    })?;
    let value = body.get("value").cloned().unwrap_or(Value::Null);
    if ok {
        Ok(value)
    } else {
        Err(WebDriverError {
            error: value["error"]
                .as_str()
                .unwrap_or("unknown error")
                .to_owned(),
            message: value["message"].as_str().unwrap_or_default().to_owned(),
        })
    }
}

async fn post(http: &reqwest::Client, url: &str, body: Value) -> Result<Value, WebDriverError> {
    let response = http
        .post(url)
        .json(&body)
        .send()
        .await
        .map_err(|e| WebDriverError {
            error: "no answer".into(),
            message: e.to_string(),
        })?;
    answer(response).await
}

/// One browser session.
pub struct Session {
    http: reqwest::Client,
    base: String,
}

impl Session {
    async fn get(&self, path: &str) -> Result<Value, WebDriverError> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|e| WebDriverError {
                error: "no answer".into(),
                message: e.to_string(),
            })?;
        answer(response).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, WebDriverError> {
        post(&self.http, &format!("{}{path}", self.base), body).await
    }

    /// Opens `url` and waits for its load.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url }))
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The first element matching a CSS selector, now.
    pub async fn find(&self, css: &str) -> Result<Element<'_>, WebDriverError> {
        let v = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await?;
        Ok(Element {
            session: self,
            id: v[ELEMENT].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// The first element matching `css`, waiting up to `within` for it to appear.
    pub async fn wait_for(&self, css: &str, within: Duration) -> Element<'_> {
        let deadline = Instant::now() + within;
        loop {
            match self.find(css).await {
                Ok(e) => return e,
                Err(e) if Instant::now() >= deadline => {
                    panic!("no {css} within {within:?}: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page; its return value.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": args}))
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits up to `within` until `script` returns something truthy; returns that.
    pub async fn wait_until(&self, what: &str, script: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let v = self.execute(script, json!([])).await;
            let truthy = match &v {
                Value::Null | Value::Bool(false) => false,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return v;
            }
            assert!(Instant::now() < deadline, "{what}: not within {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The text of the dialog (`alert`, `confirm`, `prompt`) open in the page, if any.
    pub async fn dialog_text(&self) -> Option<String> {
        match self.get("/alert/text").await {
            Ok(v) => Some(v.as_str().unwrap_or_default().to_owned()),
            Err(e) if e.error == "no such alert" => None,
            Err(e) => panic!("asking for a dialog: {e}"),
        }
    }

    /// Makes the page see `prefers-color-scheme: dark` (through the browser's DevTools protocol).
    pub async fn prefer_dark(&self) {
        self.post(
            "/goog/cdp/execute",
            json!({"cmd": "Emulation.setEmulatedMedia",
                   "params": {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}}),
        )
        .await
        .unwrap_or_else(|e| panic!("emulate a dark scheme: {e}"));
    }

    /// A PNG of the visible page.
    pub async fn screenshot(&self) -> Vec<u8> {
        let v = self.get("/screenshot").await.expect("screenshot");
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .expect("a base64 PNG")
    }

    /// Ends the session (the browser quits).
    pub async fn quit(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}

/// An element of the page.
pub struct Element<'s> {
    session: &'s Session,
    id: String,
}

impl Element<'_> {
    fn path(&self, what: &str) -> String {
        format!("/element/{}{what}", self.id)
    }

    /// Clicks it.
    pub async fn click(&self) {
        self.session
            .post(&self.path("/click"), json!({}))
            .await
            .unwrap_or_else(|e| panic!("click: {e}"));
    }

    /// Empties an input or text area.
    pub async fn clear(&self) {
        self.session
            .post(&self.path("/clear"), json!({}))
            .await
            .unwrap_or_else(|e| panic!("clear: {e}"));
    }

    /// Types `text` into it, as keystrokes.
    pub async fn type_text(&self, text: &str) {
        self.session
            .post(&self.path("/value"), json!({ "text": text }))
            .await
            .unwrap_or_else(|e| panic!("type: {e}"));
    }

    /// Its rendered text.
    pub async fn text(&self) -> String {
        let v = self
            .session
            .get(&self.path("/text"))
            .await
            .unwrap_or_else(|e| panic!("text: {e}"));
        v.as_str().unwrap_or_default().to_owned()
    }

    /// Chooses an option of a `<select>` by its value, as a keyboard user would (the page sees
    /// a `change` event).
    pub async fn select(&self, value: &str) {
        let mut element = serde_json::Map::new();
        element.insert(ELEMENT.to_owned(), Value::String(self.id.clone()));
        self.session
            .post(
                "/execute/sync",
                json!({
                    "script": "const [s, v] = arguments; s.value = v; \
                               s.dispatchEvent(new Event('change', {bubbles: true}));",
                    "args": [element, value],
                }),
            )
            .await
            .unwrap_or_else(|e| panic!("select {value}: {e}"));
    }
}
