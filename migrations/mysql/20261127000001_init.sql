-- The distributed profile's schema (MySQL 8 / MariaDB 10.11), utf8mb4 throughout.
--
-- Numbers are handed out by Redis (`INCR`), not here: workers insert chats and messages with
-- the numbers already taken, idempotently (`INSERT IGNORE` on the unique (parent, number)
-- keys), so a job persisted twice leaves one row. The `*_count` columns move in the worker's
-- transaction by the rows it actually inserted; recount recomputes them from the rows.
-- Search compares lowercased text under utf8mb4_bin itself, so the collation only orders names.
-- Timestamps are UTC with microseconds.

CREATE TABLE applications (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    token       CHAR(32)     NOT NULL,
    name        VARCHAR(255) NOT NULL,
    chats_count BIGINT       NOT NULL DEFAULT 0,
    created_at  DATETIME(6)  NOT NULL,
    updated_at  DATETIME(6)  NOT NULL,
    UNIQUE KEY applications_token (token)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE chats (
    id             BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    application_id BIGINT      NOT NULL,
    number         INT         NOT NULL,
    messages_count BIGINT      NOT NULL DEFAULT 0,
    created_at     DATETIME(6) NOT NULL,
    updated_at     DATETIME(6) NOT NULL,
    UNIQUE KEY chats_application_number (application_id, number),
    CONSTRAINT chats_application FOREIGN KEY (application_id) REFERENCES applications (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE messages (
    id         BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    chat_id    BIGINT      NOT NULL,
    number     INT         NOT NULL,
    body       TEXT        NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    UNIQUE KEY messages_chat_number (chat_id, number),
    CONSTRAINT messages_chat FOREIGN KEY (chat_id) REFERENCES chats (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
