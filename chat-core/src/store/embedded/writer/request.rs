//! The writer's requests: what each asks ([`Op`]), what a write produced ([`Reply`]), and where
//! the answer goes, typed by the kind of request ([`Responder`], [`Answer`]).

use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::model::{Application, Chat, Message, Token};

/// A write request.
pub(crate) enum Op {
    CreateApp {
        token: Token,
        name: String,
    },
    RenameApp {
        app_id: i64,
        name: String,
    },
    CreateChat {
        app_id: i64,
    },
    CreateMessage {
        chat_id: i64,
        body: String,
    },
    EditMessage {
        id: i64,
        body: String,
    },
    /// Deletes an application with its chats and messages.
    DeleteApp {
        app_id: i64,
    },
    /// Deletes a chat with its messages.
    DeleteChat {
        chat_id: i64,
    },
    /// Deletes one message.
    DeleteMessage {
        id: i64,
    },
}

/// What a write produced, inside the writer; its caller receives it typed ([`Responder`]).
pub(super) enum Reply {
    App(Application),
    Chat(Chat),
    Message(Message),
    /// The row is deleted.
    Deleted,
    /// The row to update does not exist.
    Gone,
}

/// A request's answer, as its caller awaits it.
pub(crate) type Answer<T> = oneshot::Receiver<Result<T>>;

/// Where a request's answer goes, typed by the kind of request: `None` (or `false`) means the
/// row it was about is gone. A request is paired with its responder once, by [`Op::app`],
/// [`Op::chat`], [`Op::message`] or [`Op::deletion`], so no caller matches on reply kinds.
pub(super) enum Responder {
    App(oneshot::Sender<Result<Option<Application>>>),
    Chat(oneshot::Sender<Result<Option<Chat>>>),
    Message(oneshot::Sender<Result<Option<Message>>>),
    Deleted(oneshot::Sender<Result<bool>>),
}

impl Responder {
    /// Sends the write's outcome to the caller (who may have gone: then nobody hears it).
    pub(super) fn answer(self, outcome: Result<Reply>) {
        fn typed<T>(outcome: Result<Reply>, pick: impl FnOnce(Reply) -> Option<T>) -> Result<T> {
            outcome.and_then(|r| {
                pick(r).ok_or_else(|| {
                    Error::Internal("a write answered another kind of request".into())
                })
            })
        }
        match self {
            Responder::App(tx) => {
                let _ = tx.send(typed(outcome, |r| match r {
                    Reply::App(a) => Some(Some(a)),
                    Reply::Gone => Some(None),
                    _ => None,
                }));
            }
            Responder::Chat(tx) => {
                let _ = tx.send(typed(outcome, |r| match r {
                    Reply::Chat(c) => Some(Some(c)),
                    Reply::Gone => Some(None),
                    _ => None,
                }));
            }
            Responder::Message(tx) => {
                let _ = tx.send(typed(outcome, |r| match r {
                    Reply::Message(m) => Some(Some(m)),
                    Reply::Gone => Some(None),
                    _ => None,
                }));
            }
            Responder::Deleted(tx) => {
                let _ = tx.send(typed(outcome, |r| match r {
                    Reply::Deleted => Some(true),
                    Reply::Gone => Some(false),
                    _ => None,
                }));
            }
        }
    }
}

impl Op {
    /// `CreateApp` or `RenameApp`, answered with the application (`None`: gone).
    pub(crate) fn app(self) -> (Pending, Answer<Option<Application>>) {
        debug_assert!(matches!(self, Op::CreateApp { .. } | Op::RenameApp { .. }));
        let (tx, rx) = oneshot::channel();
        (
            Pending {
                op: self,
                reply: Responder::App(tx),
            },
            rx,
        )
    }

    /// `CreateChat`, answered with the chat (`None`: its application is gone).
    pub(crate) fn chat(self) -> (Pending, Answer<Option<Chat>>) {
        debug_assert!(matches!(self, Op::CreateChat { .. }));
        let (tx, rx) = oneshot::channel();
        (
            Pending {
                op: self,
                reply: Responder::Chat(tx),
            },
            rx,
        )
    }

    /// `CreateMessage` or `EditMessage`, answered with the message (`None`: it or its chat is
    /// gone).
    pub(crate) fn message(self) -> (Pending, Answer<Option<Message>>) {
        debug_assert!(matches!(
            self,
            Op::CreateMessage { .. } | Op::EditMessage { .. }
        ));
        let (tx, rx) = oneshot::channel();
        (
            Pending {
                op: self,
                reply: Responder::Message(tx),
            },
            rx,
        )
    }

    /// A delete, answered with whether the row was there.
    pub(crate) fn deletion(self) -> (Pending, Answer<bool>) {
        debug_assert!(matches!(
            self,
            Op::DeleteApp { .. } | Op::DeleteChat { .. } | Op::DeleteMessage { .. }
        ));
        let (tx, rx) = oneshot::channel();
        (
            Pending {
                op: self,
                reply: Responder::Deleted(tx),
            },
            rx,
        )
    }
}

/// A request on its way to the writer, with where its answer goes.
pub(crate) struct Pending {
    pub(super) op: Op,
    pub(super) reply: Responder,
}

pub(crate) enum Command {
    Write(Pending),
    /// Commit what is queued, then stop.
    Shutdown,
    /// An idle writer's reminder to look for backlog records other processes left.
    Tick,
}

/// The error of a request the writer applied without an outcome (a bug).
pub(super) fn lost() -> Error {
    Error::Internal("write produced no reply".into())
}
