//! Where the distributed profile hands out numbers: Redis counters, taken by the create scripts
//! (`redis/lua/create_chat.lua`, `create_message.lua`, run from `writes.rs`); and, when a
//! counter is missing (Redis lost its data, or a slot came back empty after a failover), its
//! seed: set-if-absent from the highest of the database's `last_*_number` and the numbers still
//! pending, so racing processes agree and no number is handed out twice.

use super::*;

impl DistributedBackend {
    /// Seeds a missing counter from the database's maximum and the numbers still pending.
    pub(super) async fn seed(
        &self,
        counter: Key<'_>,
        pending: Key<'_>,
        db_max: impl std::future::Future<Output = Result<u32>>,
    ) -> Result<()> {
        let mut conn = self.conn();
        // The pending maximum is read before the database's, so that a number persisted (and
        // its pending record dropped) in between is seen by one of the two reads.
        let mut cmd = self.scripts.pending_max.command(1);
        cmd.arg(pending);
        let before: i64 = self.scripts.pending_max.run(&cmd, &mut conn).await?;
        let db = db_max.await?;
        let mut cmd = self.scripts.seed.command(2);
        cmd.arg(counter).arg(pending).arg(before).arg(db);
        let _: i64 = self.scripts.seed.run(&cmd, &mut conn).await?;
        tracing::info!(
            counter = %counter,
            db_max = db,
            pending_max = before,
            "seeded a missing counter"
        );
        Ok(())
    }

    pub(super) async fn seed_chats(&self, app: i64) -> Result<()> {
        self.seed(
            self.keys.chat_counter(app),
            self.keys.pending_chats(app),
            self.store.max_chat_number(app),
        )
        .await
    }

    /// Seeds a chat's missing message counter, once sure the chat exists (by its
    /// application's counter, seeded first when missing too, and its deleted set); `false`
    /// when there is no such chat.
    pub(super) async fn seed_messages(&self, app: i64, chat: ChatNumber) -> Result<bool> {
        for _ in 0..2 {
            let mut pipe = ::redis::pipe();
            pipe.cmd("GET")
                .arg(self.keys.chat_counter(app))
                .cmd("SISMEMBER")
                .arg(self.keys.deleted_chats(app))
                .arg(chat.get());
            let (last, deleted): (Option<u64>, bool) = pipe.query_async(&mut self.conn()).await?;
            match last {
                None => self.seed_chats(app).await?,
                Some(last) if deleted || u64::from(chat.get()) > last => return Ok(false),
                Some(_) => {
                    self.seed(
                        self.keys.message_counter(app, chat.get()),
                        self.keys.pending_messages(app, chat.get()),
                        self.store.max_message_number(app, chat),
                    )
                    .await?;
                    return Ok(true);
                }
            }
        }
        Err(Error::unavailable(
            "redis",
            "the chat counter could not be seeded",
        ))
    }
}
