//! The console in a real headless Chromium, driven through WebDriver (`chromedriver` from
//! `CHAT_TEST_CHROMEDRIVER`), against a real chat-server process on a fresh SQLite file: what
//! the page creates exists through the API; what `chatctl` writes appears in the open page
//! within a second; search in each sort order; hostile text stays text; the performance panel
//! charts real traffic; screenshots of every page at desktop and phone sizes.
//!
//! The tests take turns (one browser at a time), so their timings do not depend on each other.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chat_core::{ChatApi, ChatNumber, HttpClient, MessageNumber, Token};
use chat_tests::webdriver::{Driver, Session};
use serde_json::{json, Value};

const ADMIN: &str = "console-admin-token";
const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);
/// How long the page may take to show what it was asked to (loads, clicks, answers).
const UI: Duration = Duration::from_secs(10);

/// One browser test at a time.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn binaries() -> &'static (PathBuf, PathBuf) {
    static BINS: std::sync::OnceLock<(PathBuf, PathBuf)> = std::sync::OnceLock::new();
    BINS.get_or_init(|| {
        let mut b = chat_tests::cargo_build(&["chat-server", "chatctl"]);
        let chatctl = b.remove(1);
        (b.remove(0), chatctl)
    })
}

/// A chat-server process on a fresh database, and a chromedriver.
struct Console {
    server: Child,
    url: String,
    database_url: String,
    driver: Driver,
    _dir: tempfile::TempDir,
}

impl Console {
    fn start() -> Console {
        let dir = tempfile::tempdir().unwrap();
        let database_url = format!("sqlite://{}", dir.path().join("chat.db").display());
        let mut server = Command::new(&binaries().0)
            .args(["--listen", "127.0.0.1:0", "--log", "warn"])
            .args(["--database-url", &database_url, "--admin-token", ADMIN])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start chat-server");
        let mut line = String::new();
        BufReader::new(server.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .expect("the listening line")
            .to_owned();
        Console {
            server,
            url,
            database_url,
            driver: Driver::start(),
            _dir: dir,
        }
    }

    fn api(&self) -> HttpClient {
        HttpClient::new(&self.url)
            .unwrap()
            .with_admin_token(ADMIN.to_owned())
    }

    async fn desktop(&self) -> Session {
        let s = self.driver.session(DESKTOP.0, DESKTOP.1).await;
        s.goto(&format!("{}/", self.url)).await;
        s
    }

    /// `chatctl` directly on the server's file (another process writing it).
    fn chatctl(&self, args: &[&str]) -> Value {
        let out = Command::new(&binaries().1)
            .args(["--database-url", &self.database_url, "--output", "json"])
            .args(args)
            .env_remove("CHAT_SERVER")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "chatctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn chat(n: u32) -> ChatNumber {
    ChatNumber::new(n).unwrap()
}

/// The page's address never holds a token: it stays `/`.
async fn assert_address_is_bare(s: &Session, url: &str) {
    let here = s.execute("return location.href;", json!([])).await;
    assert_eq!(here.as_str().unwrap(), format!("{url}/"));
}

/// Opens an application's chat the way a person does: its token, then the chat.
async fn open_chat(s: &Session, token: &str, number: u32) {
    s.wait_for("#open-token", UI).await.type_text(token).await;
    s.find("#open-form button").await.unwrap().click().await;
    s.wait_for(&format!("#chats tr[data-number=\"{number}\"] button"), UI)
        .await
        .click()
        .await;
    s.wait_until(
        "the chat follows its stream",
        "return document.getElementById('live-state')?.textContent === 'live';",
        UI,
    )
    .await;
}

/// The numbers of the messages listed under `css`, in page order.
async fn numbers(s: &Session, css: &str) -> Vec<u64> {
    let v = s
        .execute(
            "return [...document.querySelectorAll(arguments[0])].map(li => Number(li.dataset.number));",
            json!([css]),
        )
        .await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect()
}

/// Waits until message `number` of the open chat shows `body`; how long that took.
async fn shown(s: &Session, number: u64, body: &str) -> Duration {
    let started = Instant::now();
    let script = format!(
        "const li = document.querySelector('#messages li[data-number=\"{number}\"] .body'); \
         return li !== null && li.textContent === {};",
        json!(body)
    );
    s.wait_until(&format!("message {number} shows {body:?}"), &script, UI)
        .await;
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_creates_an_application_a_chat_and_a_message_that_the_api_then_serves() {
    let _turn = TURN.lock().await;
    let c = Console::start();
    let s = c.desktop().await;
    let api = c.api();

    // An error is shown as the API words it.
    s.wait_for("#open-token", UI).await.type_text("nope").await;
    s.find("#open-form button").await.unwrap().click().await;
    let answer: Value = reqwest::get(format!("{}/api/v1/applications/nope", c.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let said = answer["error"]["message"].as_str().unwrap().to_owned();
    s.wait_until(
        "the API's words",
        &format!(
            "return document.getElementById('status').textContent === {};",
            json!(said)
        ),
        UI,
    )
    .await;

    // An application, then a chat, then a message, through the page.
    s.find("#app-name")
        .await
        .unwrap()
        .type_text("support desk")
        .await;
    s.find("#create-app-form button")
        .await
        .unwrap()
        .click()
        .await;
    let shown_token = s.wait_for("#app-token", UI).await.text().await;
    let token = Token::parse(&shown_token).unwrap();
    assert_address_is_bare(&s, &c.url).await;
    s.find("#new-chat").await.unwrap().click().await;
    s.wait_for("#composer-body", UI)
        .await
        .type_text("Hello from the page")
        .await;
    s.find("#send").await.unwrap().click().await;
    shown(&s, 1, "Hello from the page").await;

    let app = api.get_application(&token).await.unwrap();
    assert_eq!((app.name.as_str(), app.chats_count), ("support desk", 1));
    let m = api
        .get_message(&token, chat(1), MessageNumber::new(1).unwrap())
        .await
        .unwrap();
    assert_eq!(m.body, "Hello from the page");
    assert_eq!(
        api.get_chat(&token, chat(1)).await.unwrap().messages_count,
        1
    );

    // Edit it in the page; the API serves the new text.
    s.find("#messages li[data-number=\"1\"] .edit")
        .await
        .unwrap()
        .click()
        .await;
    let area = s.wait_for("#messages .edit-body", UI).await;
    area.clear().await;
    area.type_text("Hello, edited in the page").await;
    s.find("#messages .edit-form button[type=submit]")
        .await
        .unwrap()
        .click()
        .await;
    shown(&s, 1, "Hello, edited in the page").await;
    let m = api
        .get_message(&token, chat(1), MessageNumber::new(1).unwrap())
        .await
        .unwrap();
    assert_eq!(m.body, "Hello, edited in the page");

    // The admin list shows it; the admin token stays in this tab's sessionStorage only, and
    // no token ever reached the address.
    s.find("#home").await.unwrap().click().await;
    s.wait_for("#admin-token", UI).await.type_text(ADMIN).await;
    s.find("#admin-form button[type=submit]")
        .await
        .unwrap()
        .click()
        .await;
    let listed = s
        .wait_for("#apps-table:not([hidden]) code", UI)
        .await
        .text()
        .await;
    assert_eq!(listed, shown_token);
    let storage = s
        .execute(
            "return [localStorage.length, sessionStorage.getItem('chat-console.admin'), \
             document.cookie, history.length];",
            json!([]),
        )
        .await;
    assert_eq!(storage[0], 0, "nothing in localStorage");
    assert_eq!(storage[1], ADMIN);
    assert_eq!(storage[2], "", "no cookies");
    assert_address_is_bare(&s, &c.url).await;
    s.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_created_and_edited_with_chatctl_appear_in_the_open_page_within_a_second() {
    let _turn = TURN.lock().await;
    let c = Console::start();
    let api = c.api();
    let app = api.create_application("live").await.unwrap();
    api.create_chat(&app.token).await.unwrap();
    api.create_message(&app.token, chat(1), "already there")
        .await
        .unwrap();
    let s = c.desktop().await;
    open_chat(&s, app.token.as_str(), 1).await;
    shown(&s, 1, "already there").await;

    let sent = c.chatctl(&[
        "message",
        "send",
        app.token.as_str(),
        "1",
        "sent by chatctl",
    ]);
    let number = sent["number"].as_u64().unwrap();
    let appeared = shown(&s, number, "sent by chatctl").await;
    println!("a message of chatctl appeared {appeared:?} after chatctl exited");
    assert!(appeared < Duration::from_secs(1), "{appeared:?}");

    c.chatctl(&[
        "message",
        "edit",
        app.token.as_str(),
        "1",
        "1",
        "edited by chatctl",
    ]);
    let appeared = shown(&s, 1, "edited by chatctl").await;
    println!("an edit of chatctl appeared {appeared:?} after chatctl exited");
    assert!(appeared < Duration::from_secs(1), "{appeared:?}");
    let edited = s
        .find("#messages li[data-number=\"1\"] .edited")
        .await
        .unwrap()
        .text()
        .await;
    assert_eq!(edited, "edited");
    assert_eq!(numbers(&s, "#messages li").await, vec![1, number]);
    s.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_opens_on_its_newest_page_and_older_pages_load_when_scrolling_up() {
    let _turn = TURN.lock().await;
    let c = Console::start();
    let api = c.api();
    let app = api.create_application("history").await.unwrap();
    api.create_chat(&app.token).await.unwrap();
    for i in 1..=120 {
        api.create_message(&app.token, chat(1), &format!("line {i}"))
            .await
            .unwrap();
    }
    let s = c.desktop().await;
    open_chat(&s, app.token.as_str(), 1).await;
    shown(&s, 120, "line 120").await;
    assert_eq!(
        numbers(&s, "#messages li").await,
        (71..=120).collect::<Vec<u64>>(),
        "the newest page of 50"
    );
    // Scrolled to the top, the page before appears above; again, the first one.
    for first in [21, 1] {
        s.execute(
            "document.getElementById('message-box').scrollTop = 0;",
            json!([]),
        )
        .await;
        s.wait_until(
            &format!("messages from {first}"),
            &format!(
                "const li = document.querySelector('#messages li');                  return li !== null && li.dataset.number === '{first}';"
            ),
            UI,
        )
        .await;
    }
    assert_eq!(
        numbers(&s, "#messages li").await,
        (1..=120).collect::<Vec<u64>>()
    );
    s.wait_until(
        "nothing older to offer",
        "const b = document.getElementById('older');          return b.hidden && getComputedStyle(b).display === 'none';",
        UI,
    )
    .await;
    s.quit().await;
}

/// A chat whose messages all fit on the first page offers no older ones: the button is not
/// on screen at all (not merely marked hidden).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_that_fits_on_one_page_shows_no_load_older_button() {
    let _turn = TURN.lock().await;
    let c = Console::start();
    let api = c.api();
    let app = api.create_application("short").await.unwrap();
    api.create_chat(&app.token).await.unwrap();
    for i in 1..=3 {
        api.create_message(&app.token, chat(1), &format!("line {i}"))
            .await
            .unwrap();
    }
    let s = c.desktop().await;
    open_chat(&s, app.token.as_str(), 1).await;
    shown(&s, 3, "line 3").await;
    let older = s
        .execute(
            "const b = document.getElementById('older');              return {hidden: b.hidden, display: getComputedStyle(b).display, shown: b.offsetParent !== null};",
            json!([]),
        )
        .await;
    assert_eq!(
        older,
        json!({"hidden": true, "display": "none", "shown": false}),
        "the Load older button"
    );
    s.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_from_the_page_returns_the_expected_messages_in_each_sort_order() {
    let _turn = TURN.lock().await;
    let c = Console::start();
    let api = c.api();
    let app = api.create_application("search").await.unwrap();
    api.create_chat(&app.token).await.unwrap();
    // 36 messages, 27 of which contain "weather" (more than one page of 20 in every order).
    let mut matching = Vec::new();
    for i in 1..=36u64 {
        let body = match i % 4 {
            0 => format!("nothing to see {i}"),
            1 => format!("The Weather today, {i}"),
            2 => format!("weather, weather and more weather {i}"),
            _ => format!("what a WEATHERY day {i}"),
        };
        if i % 4 != 0 {
            matching.push(i);
        }
        api.create_message(&app.token, chat(1), &body)
            .await
            .unwrap();
    }
    let s = c.desktop().await;
    open_chat(&s, app.token.as_str(), 1).await;
    s.find("#open-search").await.unwrap().click().await;
    s.wait_for("#search-query", UI)
        .await
        .type_text("weather")
        .await;

    for sort in ["newest", "oldest", "relevance"] {
        s.find("#search-sort").await.unwrap().select(sort).await;
        s.wait_until(
            "the first page",
            "return document.querySelectorAll('#search-results li').length === 20 \
             && !document.querySelector('#search-form button').disabled;",
            UI,
        )
        .await;
        // 27 matches in pages of 20: two pages (a few more allowed, to show a server that
        // repeats itself instead of hanging on it).
        let mut pages = 1;
        while pages < 5
            && s.execute(
                "return !document.getElementById('search-more').hidden;",
                json!([]),
            )
            .await
                == json!(true)
        {
            let before = numbers(&s, "#search-results li").await.len();
            pages += 1;
            s.find("#search-more").await.unwrap().click().await;
            s.wait_until(
                "the next page",
                &format!(
                    "return document.querySelectorAll('#search-results li').length > {before} \
                     || document.getElementById('search-more').hidden;"
                ),
                UI,
            )
            .await;
        }
        let got = numbers(&s, "#search-results li").await;
        match sort {
            "newest" => {
                let expected: Vec<u64> = matching.iter().rev().copied().collect();
                assert_eq!(got, expected, "newest");
            }
            "oldest" => assert_eq!(got, matching, "oldest"),
            _ => {
                // Best first as the API ranks it, each matching message exactly once.
                let mut sorted = got.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, matching, "relevance: every match once");
                let ranked: Vec<Value> = reqwest::get(format!(
                    "{}/api/v1/applications/{}/chats/1/messages/search?query=weather&sort=relevance&limit=100",
                    c.url, app.token
                ))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
                let ranked: Vec<u64> = ranked
                    .iter()
                    .map(|m| m["number"].as_u64().unwrap())
                    .collect();
                assert_eq!(got, ranked, "relevance: the API's order");
            }
        }
        let bodies = s
            .execute(
                "return [...document.querySelectorAll('#search-results .body')].map(b => b.textContent);",
                json!([]),
            )
            .await;
        for b in bodies.as_array().unwrap() {
            assert!(
                b.as_str().unwrap().to_lowercase().contains("weather"),
                "{b}"
            );
        }
    }
    s.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_body_renders_as_inert_text_under_a_strict_content_security_policy() {
    const HOSTILE: &str = "<img src=x onerror=alert(1)>";
    let _turn = TURN.lock().await;
    let c = Console::start();
    let page = reqwest::get(format!("{}/", c.url)).await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );

    let api = c.api();
    let app = api
        .create_application("<b>bold</b><img src=x onerror=alert(2)>")
        .await
        .unwrap();
    api.create_chat(&app.token).await.unwrap();
    let s = c.desktop().await;
    open_chat(&s, app.token.as_str(), 1).await;

    // Typed into the composer and sent, and another one arriving through the live stream.
    s.find("#composer-body")
        .await
        .unwrap()
        .type_text(HOSTILE)
        .await;
    s.find("#send").await.unwrap().click().await;
    shown(&s, 1, HOSTILE).await;
    api.create_message(&app.token, chat(1), "<script>alert(3)</script>")
        .await
        .unwrap();
    shown(&s, 2, "<script>alert(3)</script>").await;

    let visible = s
        .find("#messages li[data-number=\"1\"] .body")
        .await
        .unwrap()
        .text()
        .await;
    assert_eq!(visible, HOSTILE, "the characters are shown");
    let crumb = s
        .find("#crumbs li:nth-child(2) button")
        .await
        .unwrap()
        .text()
        .await;
    assert_eq!(crumb, app.name);
    let elements = s
        .execute(
            "return document.querySelectorAll('main img, main script, main b, #crumbs img').length;",
            json!([]),
        )
        .await;
    assert_eq!(elements, 0, "no element was made of user text");
    // The policy itself: an inline handler added to the page does not run either.
    s.execute(
        "const i = document.createElement('img'); i.setAttribute('onerror', 'alert(4)'); \
         i.src = '/nowhere.png'; document.body.append(i);",
        json!([]),
    )
    .await;
    s.wait_until(
        "the image failed",
        "const i = document.querySelector('body > img'); return i.complete;",
        UI,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.dialog_text().await, None, "no dialog opened");
    s.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_performance_panel_charts_the_servers_traffic_and_the_pages_own_requests() {
    let _turn = TURN.lock().await;
    let c = Console::start();
    let api = c.api();
    let app = api.create_application("perf").await.unwrap();
    api.create_chat(&app.token).await.unwrap();
    for i in 0..60 {
        api.create_message(&app.token, chat(1), &format!("load {i}"))
            .await
            .unwrap();
        api.get_chat(&app.token, chat(1)).await.unwrap();
    }
    let s = c.desktop().await;
    open_chat(&s, app.token.as_str(), 1).await;

    // The server's seconds: requests per second and both latencies, by route.
    for chart in ["chart-rps", "chart-p50", "chart-p99"] {
        s.wait_until(
            &format!("{chart} has lines"),
            &format!(
                "const svg = document.querySelector('#{chart} svg'); \
                 return svg.querySelectorAll('polyline').length > 0 && Number(svg.dataset.points) > 0;"
            ),
            UI,
        )
        .await;
    }
    let legend = s
        .execute(
            "return [...document.querySelectorAll('#chart-rps .legend .name')].map(n => n.textContent);",
            json!([]),
        )
        .await;
    let names: Vec<&str> = legend
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(names.contains(&"all routes"), "{names:?}");
    assert!(
        names.contains(&"POST …/chats/{number}/messages"),
        "the creates are charted: {names:?}"
    );
    // The page's own requests, as it measured them.
    s.wait_until(
        "the page's requests are charted",
        "return Number(document.querySelector('#chart-page svg').dataset.points) >= 3;",
        UI,
    )
    .await;
    let note = s.find("#page-last").await.unwrap().text().await;
    assert!(note.starts_with("last: "), "{note}");
    let everything = s
        .execute(
            "return document.getElementById('perf').textContent;",
            json!([]),
        )
        .await;
    assert!(!everything.as_str().unwrap().contains(app.token.as_str()));
    s.quit().await;
}

/// The folder of test artifacts: `target/console-screenshots` next to the test binaries.
fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe
        .ancestors()
        .nth(3)
        .expect("target/PROFILE/deps/EXE")
        .to_owned();
    target.join("console-screenshots")
}

/// The width and height of a PNG, from its header.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let be = |i: usize| u32::from_be_bytes(png[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

async fn shoot(s: &Session, dir: &Path, name: &str, size: (u32, u32)) -> PathBuf {
    // Let the charts take the last second in, and the page settle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let png = s.screenshot().await;
    assert_eq!(png_size(&png).0, size.0, "{name}: the window's width");
    assert!(png.len() < 1_000_000, "{name}: {} bytes", png.len());
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, &png).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_of_every_page_at_desktop_and_phone_sizes() {
    let _turn = TURN.lock().await;
    let c = Console::start();
    let api = c.api();
    let app = api.create_application("support").await.unwrap();
    for _ in 0..3 {
        api.create_chat(&app.token).await.unwrap();
    }
    let lines = [
        "Hi! My order #1042 has not arrived yet.",
        "Sorry to hear that. Let me check the tracking for you.",
        "It left the warehouse on Monday; the carrier shows a delay.",
        "Will it arrive before the weekend?",
        "It should arrive on Friday. I will follow it up.",
        "Great, thank you!",
        "The weather delayed a few deliveries this week.",
        "Any update on the weather around the hub?",
        "Update: it is out for delivery now.",
        "<img src=x onerror=alert(1)> (pasted by mistake)",
    ];
    for l in lines {
        api.create_message(&app.token, chat(1), l).await.unwrap();
    }
    api.update_message(
        &app.token,
        chat(1),
        MessageNumber::new(5).unwrap(),
        "It should arrive on Friday at the latest. I will follow it up.",
    )
    .await
    .unwrap();
    // Traffic while the pictures are taken, so the charts have lines to show: about 25
    // creates and 25 searches a second, until the last picture.
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let load = {
        let api = c.api();
        let token = app.token.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(40));
            for i in 0..2_000 {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => break,
                }
                api.create_message(&token, chat(2), &format!("order {i}"))
                    .await
                    .unwrap();
                api.search_messages(&token, chat(1), &chat_core::SearchRequest::new("weather"))
                    .await
                    .unwrap();
            }
        })
    };
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let mut written = Vec::new();
    for (label, size) in [("desktop", DESKTOP), ("phone", PHONE)] {
        let s = c.driver.session(size.0, size.1).await;
        s.goto(&format!("{}/", c.url)).await;
        s.wait_for("#admin-token", UI).await.type_text(ADMIN).await;
        s.find("#admin-form button[type=submit]")
            .await
            .unwrap()
            .click()
            .await;
        s.wait_for("#apps-table:not([hidden]) code", UI).await;
        written.push(shoot(&s, &dir, &format!("applications-{label}"), size).await);
        s.find("#apps button").await.unwrap().click().await;
        s.wait_for("#chats tr[data-number=\"3\"]", UI).await;
        written.push(shoot(&s, &dir, &format!("application-{label}"), size).await);
        s.find("#chats tr[data-number=\"1\"] button")
            .await
            .unwrap()
            .click()
            .await;
        s.wait_until(
            "live",
            "return document.getElementById('live-state')?.textContent === 'live';",
            UI,
        )
        .await;
        s.wait_until(
            "four seconds charted",
            "return [...document.querySelectorAll('#chart-rps polyline')].some(l => l.points.length >= 4);",
            UI,
        )
        .await;
        written.push(shoot(&s, &dir, &format!("chat-{label}"), size).await);
        s.find("#open-search").await.unwrap().click().await;
        s.wait_for("#search-query", UI)
            .await
            .type_text("weather")
            .await;
        s.find("#search-form button").await.unwrap().click().await;
        s.wait_for("#search-results li", UI).await;
        written.push(shoot(&s, &dir, &format!("search-{label}"), size).await);
        if label == "desktop" {
            // The page follows the system's colour scheme.
            let background = "return getComputedStyle(document.body).backgroundColor;";
            assert_eq!(s.execute(background, json!([])).await, "rgb(246, 247, 249)");
            s.prefer_dark().await;
            assert_eq!(s.execute(background, json!([])).await, "rgb(20, 23, 29)");
            written.push(shoot(&s, &dir, "search-desktop-dark", size).await);
        }
        s.quit().await;
    }
    let _ = stop.send(true);
    load.await.unwrap();
    println!("screenshots: {written:#?}");
    assert_eq!(written.len(), 9);
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(dir.join("chat-desktop.png"), docs.join("console.png")).unwrap();
        println!("docs/console.png updated");
    }
}

#[path = "deletes.rs"]
mod deletes;
