//! Creates written to Redis together. A task owns the API's creates: it takes every request
//! that has arrived, sends them as one pipeline (one write; Redis reads them in one read and
//! answers in one write) and hands each its own answer; the requests that arrive meanwhile form
//! the next pipeline. An idle process sends each request alone at once; a busy one shares the
//! fixed cost of a round trip — the system calls on both sides — among all the requests in
//! flight, with no timer and no wait beyond the round trip already under way. Each command keeps
//! its own answer (an error in one does not fail the others).

use redis::aio::ConnectionManager;
use redis::{Cmd, FromRedisValue, RedisError, RedisResult, Value};
use tokio::sync::{mpsc, oneshot};

/// Most commands in one pipeline (a bound on one write and on one answer).
const MAX_PIPELINE: usize = 256;

struct Request {
    cmd: Cmd,
    answer: oneshot::Sender<RedisResult<Value>>,
}

/// The sending side; the task stops when it is dropped.
pub(crate) struct Batcher {
    requests: mpsc::UnboundedSender<Request>,
}

impl Batcher {
    /// The batcher and its task (to spawn).
    pub(crate) fn new(
        conn: ConnectionManager,
    ) -> (Self, impl std::future::Future<Output = ()> + Send) {
        let (requests, rx) = mpsc::unbounded_channel();
        (Batcher { requests }, run(conn, rx))
    }

    /// Sends `cmd` with the next pipeline; its answer.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: Cmd) -> RedisResult<T> {
        let (answer, rx) = oneshot::channel();
        self.requests
            .send(Request { cmd, answer })
            .map_err(|_| closed())?;
        let value = rx.await.map_err(|_| closed())??;
        Ok(T::from_redis_value(value)?)
    }

    /// Sends `cmds` in this order (Redis runs them in this order, in as many pipelines as
    /// they need); their answers, in the same order.
    pub(crate) async fn query_many<T: FromRedisValue>(
        &self,
        cmds: impl IntoIterator<Item = Cmd>,
    ) -> Vec<RedisResult<T>> {
        let mut waiting = Vec::new();
        for cmd in cmds {
            let (answer, rx) = oneshot::channel();
            let sent = self.requests.send(Request { cmd, answer }).is_ok();
            waiting.push(sent.then_some(rx));
        }
        let mut answers = Vec::with_capacity(waiting.len());
        for rx in waiting {
            let value = match rx {
                Some(rx) => rx.await.unwrap_or_else(|_| Err(closed())),
                None => Err(closed()),
            };
            answers.push(value.and_then(|v| Ok(T::from_redis_value(v)?)));
        }
        answers
    }
}

fn closed() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::BrokenPipe,
        "the Redis pipeline task has stopped",
    ))
}

async fn run(mut conn: ConnectionManager, mut rx: mpsc::UnboundedReceiver<Request>) {
    let mut batch: Vec<Request> = Vec::with_capacity(MAX_PIPELINE);
    while rx.recv_many(&mut batch, MAX_PIPELINE).await > 0 {
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        let mut answers = Vec::with_capacity(batch.len());
        for Request { cmd, answer } in batch.drain(..) {
            pipe.add_command(cmd);
            answers.push(answer);
        }
        match pipe.query_async::<Vec<RedisResult<Value>>>(&mut conn).await {
            Ok(values) if values.len() == answers.len() => {
                for (answer, value) in answers.into_iter().zip(values) {
                    let _ = answer.send(value);
                }
            }
            Ok(values) => {
                let e = RedisError::from(std::io::Error::other(format!(
                    "a pipeline of {} commands got {} answers",
                    answers.len(),
                    values.len()
                )));
                for answer in answers {
                    let _ = answer.send(Err(e.clone()));
                }
            }
            Err(e) => {
                for answer in answers {
                    let _ = answer.send(Err(e.clone()));
                }
            }
        }
    }
}
