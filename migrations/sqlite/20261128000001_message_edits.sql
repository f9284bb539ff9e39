-- Live: every edit of a message body is logged here by a trigger, in the edit's own
-- transaction, whichever process made it; the live watcher reads the log after the last
-- sequence number it has seen. The trigger keeps only the latest 10,000 entries (a watcher polls
-- every 50 ms, so it never falls that far behind).
CREATE TABLE message_edits (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL
);

CREATE TRIGGER message_edits_log AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO message_edits (message_id) VALUES (new.id);
    DELETE FROM message_edits WHERE seq <= last_insert_rowid() - 10000;
END;
