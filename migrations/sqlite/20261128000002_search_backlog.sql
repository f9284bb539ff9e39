-- Search is filled in bulk. The transaction that acknowledges a message (or an edit) records that
-- the message awaits indexing in `search_backlog`; the FTS5 index is then filled from these
-- records in large batches, off the acknowledgement path, by whichever process holds the file
-- (each process's writer drains it when it has nothing else to do, and looks again every
-- second). A record is deleted in the very transaction that indexes its message, so a crash
-- leaves it for the next process. Search reads the index and the chat's records in one snapshot
-- (the records' messages are scanned from the rows), so a message is found from the moment its
-- write commits.
--
-- `seq` orders the records (oldest drained first; AUTOINCREMENT never reuses a number), the
-- index on `message_id` finds one chat's records by id range. `stale` = 1 when the index holds
-- an older body of the message that the drain must delete first (an edit of an indexed
-- message); a message that was never indexed has 0 on every record.
CREATE TABLE search_backlog (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL,
    stale      INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX search_backlog_message ON search_backlog (message_id);

-- Edits are marked like creates instead of rewriting the index in the acknowledging transaction.
DROP TRIGGER messages_fts_update;

CREATE TRIGGER search_backlog_edit AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO search_backlog (message_id, stale)
    VALUES (new.id, NOT EXISTS (
        SELECT 1 FROM search_backlog WHERE message_id = new.id AND stale = 0));
END;
