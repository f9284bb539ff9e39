-- The embedded profile's schema.
--
-- Numbering: `last_chat_number` / `last_message_number` are the counters that hand out numbers,
-- bumped inside the write transaction (UPDATE … RETURNING), so numbers are gapless and unique
-- even when several processes write the same file. The `*_count` columns are what clients see;
-- they move in the same transaction, and recount recomputes them from the rows.
--
-- Messages are keyed by id = (chat_id << 32) | number. The primary key is therefore also the
-- unique (chat, number) index, a chat's messages sit together in the table's B-tree, and the
-- search index (whose rowid is that id) can be restricted to one chat by a rowid range.
-- Timestamps are Unix microseconds (UTC).

CREATE TABLE applications (
    id               INTEGER PRIMARY KEY,
    token            TEXT    NOT NULL UNIQUE CHECK (length(token) = 32),
    name             TEXT    NOT NULL,
    chats_count      INTEGER NOT NULL DEFAULT 0,
    last_chat_number INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

CREATE TABLE chats (
    id                  INTEGER PRIMARY KEY,
    application_id      INTEGER NOT NULL REFERENCES applications (id),
    number              INTEGER NOT NULL CHECK (number > 0),
    messages_count      INTEGER NOT NULL DEFAULT 0,
    last_message_number INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (application_id, number)
);

CREATE TABLE messages (
    id         INTEGER PRIMARY KEY CHECK (id = (chat_id << 32) | number),
    chat_id    INTEGER NOT NULL REFERENCES chats (id),
    number     INTEGER NOT NULL CHECK (number > 0 AND number < 4294967296),
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Substring search: trigrams of every body, case-folded. Contentless (bodies live once, in
-- `messages`) but deletable, so one chat's entries can be rebuilt by rowid range.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    body,
    content = '',
    contentless_delete = 1,
    tokenize = 'trigram'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    DELETE FROM messages_fts WHERE rowid = old.id;
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
