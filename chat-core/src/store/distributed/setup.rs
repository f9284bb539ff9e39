//! Opening the distributed backend: MySQL (migrated), Redis (one node or a cluster, its shard
//! count checked), the search engine when configured, the live relay, and the background
//! worker and periodic recount when the options ask for them.

use super::*;

impl DistributedBackend {
    /// Connects to `config.database_url` (migrating it) and `config.redis_url`, and starts the
    /// background worker when the options ask for one.
    pub async fn open(config: &Config, options: DistributedOptions) -> Result<Self> {
        let redis_url = config.redis_url.as_deref().ok_or_else(|| {
            Error::BadRequest(
                "a mysql:// database needs a Redis for numbering and the queue: \
                 set CHAT_REDIS_URL (or --redis-url) to redis://HOST:PORT"
                    .to_owned(),
            )
        })?;
        if !(1..=self::redis::MAX_SHARDS).contains(&options.shards) {
            return Err(Error::BadRequest(format!(
                "--redis-shards must be between 1 and {}, not {}",
                self::redis::MAX_SHARDS,
                options.shards
            )));
        }
        // The API and the worker use separate connections: a worker's blocking read would
        // otherwise hold up every request multiplexed behind it.
        let redis = Conn::open(redis_url, Duration::from_secs(5)).await?;
        let keys = Keys::new(&options.key_prefix, options.shards);
        redis::queue::check_shards(&redis, &keys).await?;
        let ack = (options.ack_replicas > 0).then_some((options.ack_replicas, options.ack_timeout));
        let (batcher, batch_task) = self::redis::batch::Batcher::new(
            redis.clone(),
            ack,
            self::redis::conn::node_urls(redis_url).first().copied(),
        );
        tokio::spawn(batch_task);
        let worker_redis =
            Conn::open(redis_url, options.worker.block + Duration::from_secs(5)).await?;
        let (live_stop, live_stopped) = watch::channel(false);
        let (live, relay) = self::redis::live::RedisLive::new(redis_url, live_stopped)?;
        let live_task = tokio::spawn(relay);
        let store =
            Arc::new(MysqlStore::open(&config.database_url, options.max_connections).await?);
        let metrics = Arc::new(Metrics::default());
        let search = match config.elasticsearch_url.as_deref() {
            Some(url) => Some(
                ElasticSearch::open(
                    url,
                    &options.index_prefix,
                    options.index_shards,
                    options.index_replicas,
                )
                .await?,
            ),
            None => None,
        };
        let scripts = Arc::new(Scripts::new());
        let worker = Arc::new(
            Worker::new(
                worker_redis,
                Arc::clone(&scripts),
                Arc::clone(&store),
                keys.clone(),
                options.worker.clone(),
                Arc::clone(&metrics),
                search.clone(),
            )
            .await?,
        );
        let mut backend = DistributedBackend {
            store,
            redis,
            keys,
            ack: (options.ack_replicas, options.ack_timeout),
            scripts,
            batcher,
            apps: IdCache::default(),
            search,
            worker,
            background: Mutex::new(None),
            metrics,
            live,
            live_task: Mutex::new(Some((live_stop, live_task))),
        };
        if options.background_worker {
            let (tx, rx) = watch::channel(false);
            let mut tasks = vec![tokio::spawn(Arc::clone(&backend.worker).run(rx.clone()))];
            if let Some(every) = options.recount_interval.filter(|d| !d.is_zero()) {
                tasks.push(tokio::spawn(maintenance::recount_periodically(
                    backend.redis.clone(),
                    Arc::clone(&backend.store),
                    backend.keys.recount_lock().to_string(),
                    every,
                    rx,
                )));
            }
            *backend.background.get_mut() = Some((tx, tasks));
        }
        Ok(backend)
    }
}
