//! `chatctl demo`: the README's first command. It creates an application with two chats and a
//! few messages, searches one chat, and prints everything, so a newcomer sees tokens, the
//! per-application and per-chat numbering, the counts and partial-word search in one screen.

use chat_core::{Application, Chat, ChatNumber, Message, SearchRequest};
use clap::Args;
use serde::Serialize;

use crate::cli::Format;
use crate::context::Context;
use crate::exit::CliResult;

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Name of the application the demo creates
    #[arg(long, default_value = "demo")]
    pub name: String,
}

/// The conversation the demo writes: (chat index, body).
const SCRIPT: &[(usize, &str)] = &[
    (0, "Welcome! Chats are numbered per app, messages per chat."),
    (
        0,
        "The weather is wonderful today, shall we meet in the park?",
    ),
    (1, "A second chat starts again at message 1."),
    (0, "Search finds any part of a word: try \"onderf\"."),
    (1, "Numbers never repeat, even with many writers at once."),
    (0, "Counts stay exact: this chat now has four messages."),
];

/// What the search of the demo looks for: the middle of "wonderful".
const QUERY: &str = "onderf";

/// Everything the demo made, as `--output json` prints it.
#[derive(Serialize)]
struct Demo {
    application: Application,
    chats: Vec<Chat>,
    messages: Vec<Message>,
    search: Search,
}

#[derive(Serialize)]
struct Search {
    chat: ChatNumber,
    query: &'static str,
    results: Vec<Message>,
}

/// Runs `demo`.
pub async fn run(ctx: &Context, args: DemoArgs) -> CliResult {
    let api = &ctx.api;
    let app = api.create_application(&args.name).await?;
    let t = app.token.clone();
    let mut chats = Vec::new();
    for _ in 0..2 {
        chats.push(api.create_chat(&t).await?.number);
    }
    for (chat, body) in SCRIPT {
        api.create_message(&t, chats[*chat], body).await?;
    }
    let first = chats[0];
    let search = Search {
        chat: first,
        query: QUERY,
        results: api
            .search_messages(&t, first, &SearchRequest::new(QUERY))
            .await?
            .items,
    };
    // Read everything back, so the counts shown are the stored ones.
    let demo = Demo {
        application: api.get_application(&t).await?,
        chats: api.list_chats(&t, Default::default()).await?.items,
        messages: api
            .list_messages(&t, first, Default::default())
            .await?
            .items,
        search,
    };
    match ctx.out.format() {
        Format::Json => return ctx.out.json(&demo),
        // `TOKEN=$(chatctl demo -o name)`: the demo application's token alone.
        Format::Name => return ctx.out.write(&format!("{}\n", demo.application.token)),
        Format::Table => {}
    }

    let out = &ctx.out;
    out.heading(&format!(
        "Application {:?} and its token",
        demo.application.name
    ))?;
    out.applications(std::slice::from_ref(&demo.application), false)?;
    out.heading("Its chats, numbered per application")?;
    out.chats(&demo.chats, true)?;
    out.heading(&format!("Messages of chat {first}, numbered per chat"))?;
    out.messages(&demo.messages, true)?;
    out.heading(&format!(
        "Search in chat {first} for {QUERY:?} (any part of a word)"
    ))?;
    out.messages(&demo.search.results, true)?;
    out.heading("Try next")?;
    out.write(&format!(
        "  chatctl message list {t} {first}\n  \
         chatctl search {t} {first} weather\n  \
         echo 'Hello!' | chatctl message send {t} {second}\n",
        second = chats[1]
    ))
}
