//! The results: one section per workload, each a table of figures, the goals it was held
//! to, and its charts. Rows are printed as they are measured and written as Markdown at
//! the end.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use crate::chart::Chart;

/// A goal and whether the run met it.
#[derive(Debug, Clone)]
pub struct Goal {
    /// The goal as the issue states it.
    pub text: String,
    /// What was measured against it.
    pub measured: String,
    /// Met or missed.
    pub met: bool,
}

/// One workload's results.
#[derive(Debug, Clone)]
pub struct Section {
    /// The heading.
    pub title: String,
    /// What is measured, how, and what is left out.
    pub notes: Vec<String>,
    /// Column names.
    pub header: Vec<String>,
    /// Table rows.
    pub rows: Vec<Vec<String>>,
    /// The goals.
    pub goals: Vec<Goal>,
    /// Charts shown under the table.
    pub charts: Vec<Chart>,
}

impl Section {
    /// A section with its table's columns; prints its title.
    pub fn new(title: &str, header: &[&str]) -> Self {
        println!("\n## {title}");
        println!("{}", header.join(" | "));
        Self {
            title: title.to_owned(),
            notes: Vec::new(),
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
            goals: Vec::new(),
            charts: Vec::new(),
        }
    }

    /// Adds a note shown above the table.
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// Adds a row and prints it.
    pub fn row(&mut self, cells: Vec<String>) {
        println!("{}", cells.join(" | "));
        self.rows.push(cells);
    }

    /// Records a goal and prints whether it was met.
    pub fn goal(&mut self, text: &str, measured: String, met: bool) {
        println!("goal: {text}: {measured}: {}", if met { "met" } else { "MISSED" });
        self.goals.push(Goal { text: text.to_owned(), measured, met });
    }

    /// Adds a chart.
    pub fn chart(&mut self, chart: Chart) {
        self.charts.push(chart);
    }
}

/// The whole run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// How the run was configured, and on what.
    pub preamble: Vec<String>,
    /// Sections in order.
    pub sections: Vec<Section>,
}

impl Report {
    /// The Markdown document; charts are linked by file name, beside it.
    pub fn markdown(&self) -> String {
        let mut out = String::from("# mtime benchmark results\n\n");
        for line in &self.preamble {
            let _ = writeln!(out, "{line}");
        }
        out.push_str("\n| Goal | Measured | Met |\n|---|---|---|\n");
        for section in &self.sections {
            for goal in &section.goals {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} |",
                    goal.text,
                    goal.measured,
                    if goal.met { "yes" } else { "**no**" }
                );
            }
        }
        for section in &self.sections {
            let _ = writeln!(out, "\n## {}\n", section.title);
            for note in &section.notes {
                let _ = writeln!(out, "{note}\n");
            }
            let _ = writeln!(out, "| {} |", section.header.join(" | "));
            let _ = writeln!(out, "|{}", "---|".repeat(section.header.len()));
            for row in &section.rows {
                let _ = writeln!(out, "| {} |", row.join(" | "));
            }
            for chart in &section.charts {
                let _ = writeln!(out, "\n![{}]({})", chart.title, chart.file);
            }
        }
        out
    }

    /// Writes `results.md` and every chart into `dir`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for chart in self.sections.iter().flat_map(|s| s.charts.iter()) {
            let path = dir.join(&chart.file);
            std::fs::write(&path, chart.svg())
                .with_context(|| format!("writing {}", path.display()))?;
        }
        let path = dir.join("results.md");
        std::fs::write(&path, self.markdown())
            .with_context(|| format!("writing {}", path.display()))?;
        println!("\nwrote {}", path.display());
        Ok(())
    }
}
