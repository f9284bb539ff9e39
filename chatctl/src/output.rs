//! Printing results: comfy-table tables sized to the terminal for people (tokens, numbers and
//! timestamps never wrap: names and bodies are shortened with `…` instead), plain
//! tab-separated lines when stdout is not a terminal, the API's JSON representations for
//! scripts, bare tokens or numbers with `-o name`, and notes on stderr. Writes report failures
//! instead of panicking, so a closed pipe (`chatctl … | head`) ends the run quietly.

use std::io::{self, IsTerminal, Write};

use chat_core::{Application, Chat, Message};
use chrono::{DateTime, Utc};
use comfy_table::{
    presets, Attribute, Cell, CellAlignment, Color, ColumnConstraint, ContentArrangement, Table,
};
use serde::Serialize;

use crate::cli::Format;
use crate::exit::{color_on, CliError, CliResult};

/// What a column costs besides its content: a border and a space of padding on each side.
const COLUMN_OVERHEAD: usize = 3;
/// A timestamp column's content: `2025-03-01 14:05:09`.
const TIME_WIDTH: usize = 19;
/// The narrowest a shortened name or body gets, however narrow the terminal.
const MIN_TEXT_WIDTH: usize = 8;
/// Below this width for names or bodies, a table drops its "updated" column.
const MIN_READABLE_TEXT: usize = 16;

/// Where and how results are printed.
#[derive(Debug, Clone)]
pub struct Output {
    format: Format,
    quiet: bool,
    color: bool,
    /// The terminal's width, when stdout is one; `None` prints plain tab-separated lines.
    width: Option<u16>,
}

impl Output {
    /// Decides colour and width once, from stdout.
    pub fn new(format: Format, quiet: bool) -> Self {
        let terminal = io::stdout().is_terminal();
        Output {
            format,
            quiet,
            color: color_on(&io::stdout()),
            // A pseudo-terminal may report no size (0 columns): assume the classic 80 rather
            // than squeezing every column to one character.
            width: terminal.then(|| Table::new().width().filter(|w| *w >= 40).unwrap_or(80)),
        }
    }

    /// An output of this format for a terminal `width` columns wide (`None`: not a terminal).
    #[cfg(test)]
    pub fn sized(format: Format, width: Option<u16>) -> Self {
        Output {
            format,
            quiet: true,
            color: false,
            width,
        }
    }

    /// The chosen format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether stdout is a terminal (tables are drawn), not a pipe (tab-separated lines).
    pub fn is_terminal(&self) -> bool {
        self.width.is_some()
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
        if self.width.is_none() {
            // Plain output: a comment line, which tab-separated readers can skip.
            return self.write(&format!("\n# {text}\n"));
        }
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
        self.write(&self.render(table))
    }

    /// A table as it is printed: drawn for a terminal, else one tab-separated line per row
    /// (the header first), with tabs and line breaks inside a cell turned into spaces.
    pub fn render(&self, table: &Table) -> String {
        if self.width.is_some() {
            return format!("{table}\n");
        }
        let line = |cells: Vec<String>| {
            let flat: Vec<String> = cells.iter().map(|c| flatten(c)).collect();
            flat.join("\t") + "\n"
        };
        let mut out = String::new();
        if let Some(header) = table.header() {
            out += &line(header.cell_iter().map(Cell::content).collect());
        }
        for row in table.row_iter() {
            out += &line(row.cell_iter().map(Cell::content).collect());
        }
        out
    }

    /// One token or number per line, for `-o name` (`chatctl … -o name | xargs …`).
    fn names(&self, names: impl Iterator<Item = String>) -> CliResult {
        let text: String = names.map(|n| n + "\n").collect();
        self.write(&text)
    }

    /// Whether an "updated" column fits beside the `fixed` ones and a readable text column
    /// (on a narrow terminal it is left out rather than squeezing the text); adds it if so.
    fn room_for_updated(&self, fixed: &mut Vec<usize>) -> bool {
        fixed.push(TIME_WIDTH);
        if self.width.is_some() && self.text_width(fixed, usize::MAX) < MIN_READABLE_TEXT {
            fixed.pop();
            return false;
        }
        true
    }

    /// How wide a shortened text column may be: what the terminal leaves after the columns
    /// that never shrink (`fixed`: their content widths), or whole off a terminal.
    fn text_width(&self, fixed: &[usize], at_most: usize) -> usize {
        match self.width {
            None => usize::MAX,
            Some(w) => {
                let taken: usize =
                    fixed.iter().map(|c| c + COLUMN_OVERHEAD).sum::<usize>() + COLUMN_OVERHEAD + 1;
                usize::from(w)
                    .saturating_sub(taken)
                    .clamp(MIN_TEXT_WIDTH, at_most)
            }
        }
    }

    /// The application(s): an object for one, an array for a list.
    pub fn applications(&self, apps: &[Application], list: bool) -> CliResult {
        match self.format {
            Format::Json => return self.json_one_or_many(apps, list),
            Format::Name => return self.names(apps.iter().map(|a| a.token.to_string())),
            Format::Table => {}
        }
        self.write(&self.applications_table(apps, list))
    }

    /// The applications' table as printed; a single application's name is shown whole.
    pub fn applications_table(&self, apps: &[Application], list: bool) -> String {
        let chats = widest(apps.iter().map(|a| a.chats_count)).max("chats".len());
        let mut fixed = vec![32, chats, TIME_WIDTH];
        let updated =
            apps.iter().any(|a| a.updated_at != a.created_at) && self.room_for_updated(&mut fixed);
        let name_width = if list {
            self.text_width(&fixed, 40)
        } else {
            usize::MAX
        };
        let mut t = self.table(&headers(&["token", "name", "chats"], updated));
        for a in apps {
            let mut row = vec![
                self.accent(a.token.as_str()),
                Cell::new(ellipsize(&a.name, name_width)),
                count(a.chats_count),
            ];
            row.extend(times(&a.created_at, &a.updated_at, updated));
            t.add_row(row);
        }
        keep_whole(&mut t, &[0, 2, 3, 4]);
        at_least(&mut t, 1, MIN_TEXT_WIDTH);
        if !list {
            // One application (`show`): its name whole, even past the terminal's width.
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
        self.render(&t)
    }

    /// The chat(s): an object for one, an array for a list.
    pub fn chats(&self, chats: &[Chat], list: bool) -> CliResult {
        match self.format {
            Format::Json => return self.json_one_or_many(chats, list),
            Format::Name => return self.names(chats.iter().map(|c| c.number.to_string())),
            Format::Table => {}
        }
        let updated = chats.iter().any(|c| c.updated_at != c.created_at);
        let mut t = self.table(&headers(&["number", "messages"], updated));
        for c in chats {
            let mut row = vec![count(u64::from(c.number.get())), count(c.messages_count)];
            row.extend(times(&c.created_at, &c.updated_at, updated));
            t.add_row(row);
        }
        keep_whole(&mut t, &[0, 1, 2, 3]);
        self.print_table(&t)
    }

    /// The message(s): an object for one, an array for a list.
    pub fn messages(&self, messages: &[Message], list: bool) -> CliResult {
        match self.format {
            Format::Json => return self.json_one_or_many(messages, list),
            Format::Name => return self.names(messages.iter().map(|m| m.number.to_string())),
            Format::Table => {}
        }
        self.write(&self.messages_table(messages))
    }

    /// The messages' table as printed.
    pub fn messages_table(&self, messages: &[Message]) -> String {
        let updated = messages.iter().any(|m| m.updated_at != m.created_at);
        let number = widest(messages.iter().map(|m| u64::from(m.number.get()))).max("number".len());
        let mut fixed = vec![number, TIME_WIDTH];
        let updated = updated && self.room_for_updated(&mut fixed);
        let width = self.text_width(&fixed, usize::MAX);
        let mut t = self.table(&headers(&["number", "body"], updated));
        for m in messages {
            let mut row = vec![
                count(u64::from(m.number.get())),
                Cell::new(ellipsize(&m.body, width)),
            ];
            row.extend(times(&m.created_at, &m.updated_at, updated));
            t.add_row(row);
        }
        keep_whole(&mut t, &[0, 2, 3]);
        at_least(&mut t, 1, MIN_TEXT_WIDTH);
        self.render(&t)
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

/// Gives these columns (where they exist) their content's width, so a terminal too narrow
/// for the table cuts the text columns, never a token, a number or a timestamp.
fn keep_whole(table: &mut Table, columns: &[usize]) {
    for &i in columns {
        if let Some(column) = table.column_mut(i) {
            column.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
}

/// Keeps a shortened text column at least `width` characters wide.
fn at_least(table: &mut Table, column: usize, width: usize) {
    if let Some(c) = table.column_mut(column) {
        c.set_constraint(ColumnConstraint::LowerBoundary(comfy_table::Width::Fixed(
            u16::try_from(width).unwrap_or(u16::MAX),
        )));
    }
}

/// The width of the widest number, as printed.
fn widest(numbers: impl Iterator<Item = u64>) -> usize {
    numbers.map(|n| n.to_string().len()).max().unwrap_or(1)
}

/// Tabs, line breaks and other control characters as spaces: one line, one cell.
fn flatten(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
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
    let flat = flatten(text);
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

    fn app(name: &str, updated: bool) -> Application {
        let created = DateTime::parse_from_rfc3339("2025-03-01T14:05:09Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("valid timestamp");
        Application {
            token: chat_core::Token::generate(),
            name: name.to_owned(),
            chats_count: 12_345,
            created_at: created,
            updated_at: if updated {
                created + chrono::Duration::seconds(5)
            } else {
                created
            },
        }
    }

    #[test]
    fn tokens_never_wrap_at_80_columns_and_names_are_shortened_instead() {
        let apps = [
            app(&"a very long application name ".repeat(4), true),
            app("short", false),
        ];
        for width in [80u16, 100, 120, 60] {
            let out = Output::sized(Format::Table, Some(width));
            let table = out.applications_table(&apps, true);
            // 60 columns cannot hold a token and a date: the token still stays whole.
            for line in table.lines().filter(|_| width >= 80) {
                assert!(
                    line.chars().count() <= usize::from(width),
                    "{width} columns: {line:?}\n{table}"
                );
            }
            for a in &apps {
                assert!(
                    table.contains(a.token.as_str()),
                    "{width}: token cut or wrapped:\n{table}"
                );
            }
            assert!(table.contains("2025-03-01 14:05:09"), "{table}");
            assert!(table.contains('…'), "the long name is shortened:\n{table}");
        }
        // `show` (one application) prints the name whole.
        let out = Output::sized(Format::Table, Some(200));
        let one = out.applications_table(&apps[..1], false);
        assert!(one.contains(apps[0].name.trim_end()), "{one}");
    }

    #[test]
    fn message_numbers_and_times_never_wrap_either() {
        let t = DateTime::parse_from_rfc3339("2025-03-01T14:05:09Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("valid timestamp");
        let m = Message {
            number: chat_core::MessageNumber::parse("2147483647").expect("number"),
            body: "word ".repeat(100),
            created_at: t,
            updated_at: t,
        };
        let table = Output::sized(Format::Table, Some(80)).messages_table(&[m]);
        assert!(table.contains("2147483647"), "{table}");
        assert!(table.lines().all(|l| l.chars().count() <= 80), "{table}");
    }

    #[test]
    fn off_a_terminal_tables_are_tab_separated_lines_with_whole_values() {
        let apps = [app("line\tbreak\nname", false)];
        let text = Output::sized(Format::Table, None).applications_table(&apps, true);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "token\tname\tchats\tcreated (UTC)");
        assert_eq!(
            lines[1],
            format!(
                "{}\tline break name\t12345\t2025-03-01 14:05:09",
                apps[0].token
            )
        );
        assert_eq!(lines.len(), 2);
        assert!(!text.contains('│') && !text.contains('─'), "{text}");
    }

    #[test]
    fn timestamps_are_readable() {
        let t = DateTime::parse_from_rfc3339("2025-03-01T14:05:09.123456Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("valid timestamp");
        assert_eq!(when(&t), "2025-03-01 14:05:09");
    }
}
