//! `--plot FILE.svg`: the run as one SVG picture of three charts — latency percentiles over
//! time, throughput over time, and the latency histogram of the whole run. Drawn with plotters'
//! SVG backend, which writes text as SVG `<text>` (no font files needed).

use std::path::Path;

use plotters::prelude::*;

use super::load::{ms, Recorder};
use super::report::Outcome;
use crate::exit::{CliError, CliResult};

const WIDTH: u32 = 960;
const HEIGHT: u32 = 1020;
/// Bars of the histogram.
const BINS: usize = 60;

/// Writes the chart of `outcome` to `path`.
pub fn write(path: &Path, outcome: &Outcome, recorder: &Recorder) -> CliResult {
    let histogram = recorder.with(|f| bins(f.total));
    let mut svg = String::new();
    draw(&mut svg, outcome, &histogram)
        .map_err(|e| CliError::failed(format!("drawing the chart: {e}")))?;
    std::fs::write(path, svg).map_err(|e| CliError::io(format!("writing {}", path.display()), e))
}

/// The latency histogram in `BINS` equal bins from 0 to the 99.9th percentile (slower answers
/// fall in the last bin): (bin start in ms, bin width in ms, answers).
fn bins(h: &hdrhistogram::Histogram<u64>) -> Vec<(f64, f64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let top = ms(h.value_at_quantile(0.999)).max(0.001);
    let width = top / BINS as f64;
    let mut counts = vec![0u64; BINS];
    for v in h.iter_recorded() {
        let i = ((ms(v.value_iterated_to()) / width) as usize).min(BINS - 1);
        counts[i] += v.count_since_last_iteration();
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, n)| (i as f64 * width, width, n))
        .collect()
}

type Error = Box<dyn std::error::Error>;

fn draw(svg: &mut String, o: &Outcome, histogram: &[(f64, f64, u64)]) -> Result<(), Error> {
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!(
        "chatctl bench {} — {} {}, {:.1} s, {:.0} req/s, p99 {:.2} ms, {} errors",
        o.scenario,
        o.mode,
        match o.rate {
            Some(r) => format!("loop at {r:.0} req/s"),
            None => format!("loop, {} concurrent", o.concurrency),
        },
        o.duration_s,
        o.per_second,
        o.latency_ms.p99,
        o.errors
    );
    let root = root.titled(&title, ("sans-serif", 18))?;
    let areas = root.split_evenly((3, 1));
    let end = o.timeline.last().map_or(1.0, |p| p.t_s).max(0.5);

    // Latency percentiles, then throughput and errors, over time.
    let t = &o.timeline;
    let series = |pick: fn(&super::load::Point) -> f64| -> Vec<(f64, f64)> {
        t.iter().map(|p| (p.t_s, pick(p))).collect()
    };
    line_chart(
        &areas[0],
        "latency over time (per 0.5 s window)",
        "ms",
        end,
        0.01,
        &[
            ("p50", BLUE, series(|p| p.p50_ms)),
            ("p90", GREEN, series(|p| p.p90_ms)),
            ("p99", RED, series(|p| p.p99_ms)),
        ],
    )?;
    line_chart(
        &areas[1],
        "throughput over time",
        "answers/s",
        end,
        1.0,
        &[
            ("answers/s", BLUE, series(|p| p.per_second)),
            (
                "errors/s",
                RED,
                series(|p| p.errors as f64 / super::load::WINDOW.as_secs_f64()),
            ),
        ],
    )?;

    // Latency histogram.
    let right = histogram.last().map_or(1.0, |(x, w, _)| x + w);
    let tallest = histogram.iter().map(|b| b.2).max().unwrap_or(0).max(1) as f64 * 1.1;
    let mut chart = ChartBuilder::on(&areas[2])
        .caption(
            "latency histogram (0 to p99.9; slower answers in the last bar)",
            ("sans-serif", 15),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..right, 0.0..tallest)?;
    chart
        .configure_mesh()
        .x_desc("ms")
        .y_desc("answers")
        .draw()?;
    chart.draw_series(histogram.iter().map(|(x, w, n)| {
        Rectangle::new(
            [(*x, 0.0), (x + w * 0.9, *n as f64)],
            BLUE.mix(0.7).filled(),
        )
    }))?;
    root.present()?;
    Ok(())
}

/// A named line of a chart: its legend, its colour, its (seconds, value) points.
type Line<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

/// One chart of lines over the run's seconds (`0..end`), scaled to its highest point (at
/// least `floor`), each line with its name in the legend.
fn line_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    y_desc: &str,
    end: f64,
    floor: f64,
    lines: &[Line<'_>],
) -> Result<(), Error>
where
    DB::ErrorType: 'static,
{
    let top = lines
        .iter()
        .flat_map(|(_, _, points)| points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max)
        .max(floor)
        * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 15))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..end, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc(y_desc)
        .draw()?;
    for (name, color, points) in lines {
        let color = *color;
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
