//! Line charts as SVG text: one cost curve per series over a growing parameter, mtime
//! beside its baselines. Both axes are logarithmic, since the parameters grow tenfold.

use std::fmt::Write;

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend.
    pub name: String,
    /// (parameter, value) points, in parameter order.
    pub points: Vec<(f64, f64)>,
    /// A goal or a bound rather than a measurement: drawn dashed.
    pub dashed: bool,
}

/// A chart to draw.
#[derive(Debug, Clone)]
pub struct Chart {
    /// The file name, without folder.
    pub file: String,
    /// The title above the plot.
    pub title: String,
    /// What the parameter is.
    pub x_label: String,
    /// What the value is, with its unit.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
/// mtime first, then the baselines, then goals; readable on white and for most eyes.
const COLOURS: [&str; 6] = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#555555"];

impl Series {
    /// A measured line.
    pub fn measured(name: &str, points: Vec<(f64, f64)>) -> Self {
        Self { name: name.to_owned(), points, dashed: false }
    }

    /// A goal, flat over the parameters measured.
    pub fn goal(name: &str, value: f64, xs: &[f64]) -> Self {
        Self {
            name: name.to_owned(),
            points: xs.iter().map(|x| (*x, value)).collect(),
            dashed: true,
        }
    }
}

/// Powers of ten from below `lo` to above `hi`, as log10 bounds.
fn decades(lo: f64, hi: f64) -> (f64, f64) {
    let lo = lo.max(f64::MIN_POSITIVE).log10().floor();
    let mut hi = hi.max(f64::MIN_POSITIVE).log10().ceil();
    if hi <= lo {
        hi = lo + 1.0;
    }
    (lo, hi)
}

/// A tick label: 1k, 10k, 1M for large numbers, decimals for small ones.
fn tick(value: f64) -> String {
    match value {
        v if v >= 1e6 => format!("{}M", v / 1e6),
        v if v >= 1e3 => format!("{}k", v / 1e3),
        v => format!("{v}"),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

impl Chart {
    /// The SVG document. Points with a value of zero or less cannot sit on a log axis and
    /// are left out.
    pub fn svg(&self) -> String {
        let points = || self.series.iter().flat_map(|s| s.points.iter()).filter(|p| p.1 > 0.0);
        let (x_lo, x_hi) = decades(
            points().map(|p| p.0).fold(f64::INFINITY, f64::min),
            points().map(|p| p.0).fold(0.0, f64::max),
        );
        let (y_lo, y_hi) = decades(
            points().map(|p| p.1).fold(f64::INFINITY, f64::min),
            points().map(|p| p.1).fold(0.0, f64::max),
        );
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let px = |x: f64| LEFT + (x.log10() - x_lo) / (x_hi - x_lo) * plot_w;
        let py = |y: f64| TOP + plot_h - (y.log10() - y_lo) / (y_hi - y_lo) * plot_h;

        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
             viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">{}</text>\n",
            LEFT + plot_w / 2.0,
            escape(&self.title)
        );
        for d in x_lo as i32..=x_hi as i32 {
            let x = px(10f64.powi(d));
            let _ = write!(
                out,
                "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\n\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
                TOP + plot_h,
                TOP + plot_h + 16.0,
                tick(10f64.powi(d))
            );
        }
        for d in y_lo as i32..=y_hi as i32 {
            let y = py(10f64.powi(d));
            let _ = write!(
                out,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\n\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
                LEFT + plot_w,
                LEFT - 6.0,
                y + 4.0,
                tick(10f64.powi(d))
            );
        }
        let _ = write!(
            out,
            "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"none\" \
             stroke=\"#333\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n\
             <text transform=\"translate(16 {:.1}) rotate(-90)\" \
             text-anchor=\"middle\">{}</text>\n",
            LEFT + plot_w / 2.0,
            HEIGHT - 12.0,
            escape(&self.x_label),
            TOP + plot_h / 2.0,
            escape(&self.y_label)
        );

        for (i, series) in self.series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let dash = if series.dashed { " stroke-dasharray=\"6 4\"" } else { "" };
            let path: Vec<String> = series
                .points
                .iter()
                .filter(|p| p.1 > 0.0)
                .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
                .collect();
            let _ = writeln!(
                out,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" \
                 stroke-width=\"2\"{dash}/>",
                path.join(" ")
            );
            if !series.dashed {
                for p in &path {
                    let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
                    let _ =
                        writeln!(out, "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{colour}\"/>");
                }
            }
            let ly = TOP + 10.0 + 20.0 * i as f64;
            let lx = WIDTH - RIGHT + 12.0;
            let _ = write!(
                out,
                "<line x1=\"{lx}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{colour}\" \
                 stroke-width=\"2\"{dash}/>\n\
                 <text x=\"{}\" y=\"{}\">{}</text>\n",
                lx + 22.0,
                lx + 28.0,
                ly + 4.0,
                escape(&series.name)
            );
        }
        out.push_str("</svg>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_draws_every_series_and_skips_points_off_the_log_axis() {
        let chart = Chart {
            file: "t.svg".into(),
            title: "a < b".into(),
            x_label: "events".into(),
            y_label: "ms".into(),
            series: vec![
                Series::measured("mtime", vec![(10.0, 1.0), (100.0, 2.0), (1000.0, 0.0)]),
                Series::goal("goal", 5.0, &[10.0, 1000.0]),
            ],
        };
        let svg = chart.svg();
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 2, "the zero point is left out");
        assert!(svg.contains("a &lt; b"));
        assert!(svg.contains("stroke-dasharray"));
    }
}
