//! Printing results: comfy-table tables sized to the terminal for people, the API's JSON
//! representations for scripts, and notes on stderr. Writes report failures instead of
//! panicking, so a closed pipe (`chatctl … | head`) ends the run quietly.

use std::io::{self, IsTerminal, Write};

use chat_core::{Application, Chat, Message};
use chrono::{DateTime, Utc};
use comfy_table::{presets, Attribute, Cell, CellAlignment, Color, ContentArrangement, Table};
use serde::Serialize;

use crate::cli::Format;
use crate::exit::{color_on, CliError, CliResult};

/// Characters a message table gives everything but the body: the number, a timestamp,
/// borders and padding; and what an "updated" column adds.
const MESSAGE_COLUMNS_WIDTH: usize = 36;
const UPDATED_COLUMN_WIDTH: usize = 22;
/// Body width when the terminal's width is unknown (output to a pipe or a file).
const DEFAULT_BODY_WIDTH: usize = 60;

/// Where and how results are printed.
#[derive(Debug, Clone)]
pub struct Output {
    format: Format,
    quiet: bool,
    color: bool,
    /// The terminal's width, when stdout is one.
    width: Option<u16>,
}

impl Output {
    /// Decides colour and width once, from stdout.
    pub fn new(format: Format, quiet: bool) -> Self {
        Output {
            format,
            quiet,
            color: color_on(&io::stdout()),
            // A pseudo-terminal may report no size (0 columns): treat tiny widths as unknown
            // rather than squeezing every column to one character.
            width: Table::new().width().filter(|w| *w >= 40),
        }
    }

    /// The chosen format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether notes and progress are silenced.
    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// Prints any serializable value as pretty JSON.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) -> CliResult {
        let mut text = serde_json::to_string_pretty(value)
            .map_err(|e| CliError::failed(format!("cannot encode the result as JSON: {e}")))?;
        text.push('\n');
        self.write(&text)
    }

    /// Prints text on stdout as is.
    pub fn write(&self, text: &str) -> CliResult {
        let mut stdout = io::stdout().lock();
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(|e| CliError::io("writing the output", e))
    }

    /// A note for people on stderr (skipped with `--quiet`).
    pub fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    /// A heading above a table (table format only).
    pub fn heading(&self, text: &str) -> CliResult {
        if self.color {
            self.write(&format!("\n\x1b[1m{text}\x1b[0m\n"))
        } else {
            self.write(&format!("\n{text}\n"))
        }
    }

    /// A table with these column headers, styled for the terminal.
    pub fn table(&self, headers: &[&str]) -> Table {
        let mut table = Table::new();
        table
            .load_preset(presets::UTF8_FULL_CONDENSED)
            .apply_modifier(comfy_table::modifiers::UTF8_ROUND_CORNERS)
            .set_truncation_indicator("…")
            .set_header(headers.iter().map(|h| {
                let cell = Cell::new(h);
                if self.color {
                    cell.add_attribute(Attribute::Bold).fg(Color::Cyan)
                } else {
                    cell
                }
            }));
        // Fit the terminal when there is one; elsewhere keep rows whole (a pipe has no width).
        match self.width {
            Some(w) => table
                .set_width(w)
                .set_content_arrangement(ContentArrangement::Dynamic),
            None => table.set_content_arrangement(ContentArrangement::Disabled),
        };
        table
    }

    /// Prints a table built with [`Output::table`].
    pub fn print_table(&self, table: &Table) -> CliResult {
        self.write(&format!("{table}\n"))
    }

    /// The application(s): an object for one, an array for a list.
    pub fn applications(&self, apps: &[Application], list: bool) -> CliResult {
        if self.format == Format::Json {
            return self.json_one_or_many(apps, list);
        }
        let updated = apps.iter().any(|a| a.updated_at != a.created_at);
        let mut t = self.table(&headers(&["token", "name", "chats"], updated));
        for a in apps {
            let mut row = vec![
                self.accent(a.token.as_str()),
                Cell::new(ellipsize(&a.name, 40)),
                count(a.chats_count),
            ];
            row.extend(times(&a.created_at, &a.updated_at, updated));
            t.add_row(row);
        }
        self.print_table(&t)
    }

    /// The chat(s): an object for one, an array for a list.
    pub fn chats(&self, chats: &[Chat], list: bool) -> CliResult {
        if self.format == Format::Json {
            return self.json_one_or_many(chats, list);
        }
        let updated = chats.iter().any(|c| c.updated_at != c.created_at);
        let mut t = self.table(&headers(&["number", "messages"], updated));
        for c in chats {
            let mut row = vec![count(u64::from(c.number.get())), count(c.messages_count)];
            row.extend(times(&c.created_at, &c.updated_at, updated));
            t.add_row(row);
        }
        self.print_table(&t)
    }

    /// The message(s): an object for one, an array for a list.
    pub fn messages(&self, messages: &[Message], list: bool) -> CliResult {
        if self.format == Format::Json {
            return self.json_one_or_many(messages, list);
        }
        let updated = messages.iter().any(|m| m.updated_at != m.created_at);
        let others = MESSAGE_COLUMNS_WIDTH + if updated { UPDATED_COLUMN_WIDTH } else { 0 };
        let width = self.width.map_or(DEFAULT_BODY_WIDTH, |w| {
            usize::from(w).saturating_sub(others).max(16)
        });
        let mut t = self.table(&headers(&["number", "body"], updated));
        for m in messages {
            let mut row = vec![
                count(u64::from(m.number.get())),
                Cell::new(ellipsize(&m.body, width)),
            ];
            row.extend(times(&m.created_at, &m.updated_at, updated));
            t.add_row(row);
        }
        self.print_table(&t)
    }

    fn json_one_or_many<T: Serialize>(&self, items: &[T], list: bool) -> CliResult {
        match items {
            [one] if !list => self.json(one),
            _ => self.json(items),
        }
    }

    fn accent(&self, text: &str) -> Cell {
        let cell = Cell::new(text);
        if self.color {
            cell.fg(Color::Green)
        } else {
            cell
        }
    }
}

/// The columns, then the timestamps: "updated" only when some row was changed after its
/// creation, since it would otherwise repeat "created".
fn headers<'a>(columns: &[&'a str], updated: bool) -> Vec<&'a str> {
    let mut h = columns.to_vec();
    h.push("created (UTC)");
    if updated {
        h.push("updated (UTC)");
    }
    h
}

fn times(created: &DateTime<Utc>, updated: &DateTime<Utc>, with_updated: bool) -> Vec<Cell> {
    let mut cells = vec![Cell::new(when(created))];
    if with_updated {
        cells.push(Cell::new(when(updated)));
    }
    cells
}

/// A right-aligned number.
pub fn count(n: u64) -> Cell {
    Cell::new(n).set_alignment(CellAlignment::Right)
}

/// A timestamp a person reads at a glance: `2025-03-01 14:05:09`, in UTC.
pub fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// One line of at most `max` characters: line breaks and tabs become spaces, and a cut is
/// marked with an ellipsis.
pub fn ellipsize(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let mut out: String = flat.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Whether stdin is a terminal (a person would have to type the input).
pub fn stdin_is_terminal() -> bool {
    io::stdin().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_bodies_are_cut_with_an_ellipsis_on_one_line() {
        assert_eq!(ellipsize("short", 10), "short");
        assert_eq!(ellipsize("two\nlines", 10), "two lines");
        let cut = ellipsize(&"é".repeat(100), 10);
        assert_eq!(cut.chars().count(), 10);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn timestamps_are_readable() {
        let t = DateTime::parse_from_rfc3339("2025-03-01T14:05:09.123456Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("valid timestamp");
        assert_eq!(when(&t), "2025-03-01 14:05:09");
    }
}
