//! Live followers on the distributed profile: a follow subscribes to its chat's Pub/Sub channel
//! (sharded Pub/Sub on a cluster) through the process's one relay ([`super::redis::live`]),
//! which the create, edit and delete scripts publish to.

use super::DistributedBackend;
use crate::error::Result;
use crate::live::Subscription;
use crate::model::{ChatNumber, Token};
use crate::store::not_chat;

impl DistributedBackend {
    pub(super) async fn subscribe(&self, token: &Token, chat: ChatNumber) -> Result<Subscription> {
        let app = self.live_app(token).await?;
        if !self.chat_exists(app, chat).await? {
            return Err(not_chat(token, chat));
        }
        self.live
            .subscribe(self.keys.live(app, chat.get()).to_string())
            .await
    }
}
