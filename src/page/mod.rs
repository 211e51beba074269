//! `igpipe report`'s page: one self-contained HTML file (inline CSS and SVG; no scripts,
//! fonts or anything fetched), so it opens from a bucket, a mail attachment or a laptop.
//! Pure: the command gathers the rows, this renders them.
//!
//! Every piece of text from the lake (usernames, reject reasons, check details, run ids,
//! errors) goes through `escape`; colours are used only when they are `#rrggbb`.

use std::fmt::Write as _;

/// One run of the date, from the run log.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub step: String,
    pub run_id: String,
    pub status: String,
    pub files_read: u64,
    pub rows_written: u64,
    pub rejected: u64,
    pub seconds: f64,
    pub error: Option<String>,
}

/// Rejects of the date, grouped by step and reason (numbers in the reason masked, so
/// "post 17… of user 42: HTTP 404" groups with its kind).
#[derive(Debug, Clone, PartialEq)]
pub struct RejectGroup {
    pub step: String,
    pub reason: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckRow {
    pub name: String,
    pub severity: String,
    pub outcome: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Swatch {
    pub hex: String,
    pub percentage: f64,
}

/// A creator of the fact table's sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Creator {
    pub id: String,
    pub username: Option<String>,
    pub followers: Vec<Option<i64>>,
    pub engagement_rate: Option<f64>,
    pub doc_count: i64,
    pub palette: Vec<Swatch>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub date: String,
    pub generated_at: String,
    pub runs: Vec<RunRow>,
    pub rejects: Vec<RejectGroup>,
    /// The quality report's status and checks; None when quality-check has not run.
    pub checks: Option<(String, Vec<CheckRow>)>,
    pub creators: Vec<Creator>,
    /// Creators in the fact table (the sample shows some of them).
    pub creators_total: usize,
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:72rem;color:#1f2328;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin:2rem 0 .5rem}
.sub{color:#656d76;margin:0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #d0d7de;vertical-align:top}
th{background:#f6f8fa;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.ok,.pass{color:#1a7f37}.failed,.fail,.quality_failed,.too_many_rejects{color:#cf222e;font-weight:600}.skipped,.skip,.warn{color:#9a6700}
.swatches{display:flex;height:1.4rem;width:12rem;border:1px solid #d0d7de;border-radius:3px;overflow:hidden}
.swatches span{display:block;height:100%}
.empty{color:#656d76;font-style:italic}svg{display:block}
";

/// The whole page.
pub fn render(page: &Page) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>igpipe report {date}</title><style>{STYLE}</style></head><body>\n\
         <h1>igpipe report for {date}</h1><p class=\"sub\">Generated {generated}.</p>\n",
        date = escape(&page.date),
        generated = escape(&page.generated_at),
    );
    html.push_str(&runs_section(&page.runs));
    html.push_str(&rejects_section(&page.rejects));
    html.push_str(&checks_section(page.checks.as_ref()));
    html.push_str(&creators_section(&page.creators, page.creators_total));
    html.push_str("</body></html>\n");
    html
}

fn runs_section(runs: &[RunRow]) -> String {
    let mut s = String::from("<h2>Runs</h2>\n");
    if runs.is_empty() {
        s.push_str("<p class=\"empty\">No run of this date in the run log (_runs/).</p>\n");
        return s;
    }
    s.push_str("<table id=\"runs\"><tr><th>step</th><th>run</th><th>status</th><th>files read</th><th>rows written</th><th>rejected</th><th>seconds</th></tr>\n");
    for r in runs {
        let status = escape(&r.status);
        let error = r
            .error
            .as_deref()
            .map(|e| format!("<br><small>{}</small>", escape(e)))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td class=\"{status}\">{status}{error}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.2}</td></tr>",
            escape(&r.step), escape(&r.run_id), r.files_read, r.rows_written, r.rejected, r.seconds
        );
    }
    s.push_str("</table>\n");
    s
}

fn rejects_section(rejects: &[RejectGroup]) -> String {
    let mut s = String::from("<h2>Rejects by reason</h2>\n");
    if rejects.is_empty() {
        s.push_str("<p class=\"empty\">No rejected input on this date.</p>\n");
        return s;
    }
    s.push_str("<table id=\"rejects\"><tr><th>step</th><th>reason (numbers masked)</th><th>count</th></tr>\n");
    for r in rejects {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            escape(&r.step),
            escape(&r.reason),
            r.count
        );
    }
    s.push_str("</table>\n");
    s
}

fn checks_section(checks: Option<&(String, Vec<CheckRow>)>) -> String {
    let mut s = String::from("<h2>Quality checks</h2>\n");
    let Some((status, rows)) = checks else {
        s.push_str("<p class=\"empty\">quality-check has not run for this date.</p>\n");
        return s;
    };
    let _ = writeln!(
        s,
        "<p>Status: <strong class=\"{0}\">{0}</strong></p>",
        escape(status)
    );
    s.push_str("<table id=\"checks\"><tr><th>check</th><th>level</th><th>outcome</th><th>detail</th></tr>\n");
    for c in rows {
        let outcome = escape(&c.outcome);
        let _ = writeln!(
            s,
            "<tr class=\"check\"><td>{}</td><td>{}</td><td class=\"{outcome}\">{outcome}</td><td>{}</td></tr>",
            escape(&c.name), escape(&c.severity), escape(&c.detail)
        );
    }
    s.push_str("</table>\n");
    s
}

fn creators_section(creators: &[Creator], total: usize) -> String {
    let mut s = format!(
        "<h2>Creators ({} of {total}, most followed first)</h2>\n",
        creators.len()
    );
    if creators.is_empty() {
        s.push_str("<p class=\"empty\">No fact table for this date (marts/history/).</p>\n");
        return s;
    }
    s.push_str("<table id=\"creators\"><tr><th>creator</th><th>followers, 30 days</th><th>latest</th><th>posts</th><th>engagement rate</th><th>palette</th></tr>\n");
    for c in creators {
        let latest = c
            .followers
            .iter()
            .rev()
            .flatten()
            .next()
            .map_or("–".to_string(), |f| f.to_string());
        let rate = c
            .engagement_rate
            .map_or("–".to_string(), |r| format!("{:.2}%", r * 100.0));
        let name = c
            .username
            .as_deref()
            .map(escape)
            .unwrap_or_else(|| "<span class=\"empty\">no username</span>".into());
        let _ = writeln!(
            s,
            "<tr class=\"creator\"><td><strong>{name}</strong><br><small>{}</small></td><td>{}</td><td class=\"n\">{latest}</td><td class=\"n\">{}</td><td class=\"n\">{rate}</td><td>{}</td></tr>",
            escape(&c.id), sparkline(&c.followers, 160, 32), c.doc_count, swatches(&c.palette)
        );
    }
    s.push_str("</table>\n");
    s
}

/// The palette as a bar of colour swatches, each as wide as its share.
fn swatches(palette: &[Swatch]) -> String {
    let valid: Vec<&Swatch> = palette.iter().filter(|w| is_hex_colour(&w.hex)).collect();
    if valid.is_empty() {
        return "<span class=\"empty\">no palette</span>".into();
    }
    let mut s = String::from("<div class=\"swatches\">");
    for w in valid {
        let _ = write!(
            s,
            "<span class=\"swatch\" title=\"{hex} {pct:.1}%\" style=\"background:{hex};width:{pct:.2}%\"></span>",
            hex = w.hex,
            pct = (w.percentage * 100.0).clamp(0.0, 100.0)
        );
    }
    s.push_str("</div>");
    s
}

/// An inline SVG line of the non-null values, scaled to the box (gaps where null).
pub fn sparkline(values: &[Option<i64>], width: u32, height: u32) -> String {
    let known: Vec<i64> = values.iter().flatten().copied().collect();
    let (Some(&min), Some(&max)) = (known.iter().min(), known.iter().max()) else {
        return "<span class=\"empty\">no data</span>".into();
    };
    let span = (max - min).max(1) as f64;
    let step = if values.len() > 1 {
        f64::from(width - 4) / (values.len() - 1) as f64
    } else {
        0.0
    };
    let mut segments: Vec<Vec<String>> = vec![Vec::new()];
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => {
                let x = 2.0 + step * i as f64;
                let y = 2.0 + f64::from(height - 4) * (1.0 - (*v - min) as f64 / span);
                segments
                    .last_mut()
                    .expect("one segment")
                    .push(format!("{x:.1},{y:.1}"));
            }
            None => segments.push(Vec::new()),
        }
    }
    let mut svg = format!(
        "<svg class=\"sparkline\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\"><title>followers {min} to {max}</title>"
    );
    for points in segments.iter().filter(|p| !p.is_empty()) {
        if points.len() == 1 {
            let (x, y) = points[0].split_once(',').expect("x,y");
            let _ = write!(
                svg,
                "<circle cx=\"{x}\" cy=\"{y}\" r=\"1.5\" fill=\"#0969da\"/>"
            );
        } else {
            let _ = write!(
                svg,
                "<polyline fill=\"none\" stroke=\"#0969da\" stroke-width=\"1.5\" points=\"{}\"/>",
                points.join(" ")
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// HTML-escapes text for element content and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn is_hex_colour(text: &str) -> bool {
    text.len() == 7 && text.starts_with('#') && text[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// A reject reason with every run of digits replaced by `N`, so reasons group by kind.
pub fn reason_kind(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut in_digits = false;
    for c in reason.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('N');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_lake_is_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        let creator = Creator {
            id: "1".into(),
            username: Some("<img src=x onerror=alert(1)>".into()),
            followers: vec![Some(1)],
            engagement_rate: None,
            doc_count: 0,
            palette: vec![Swatch {
                hex: "red;background:url(//evil)".into(),
                percentage: 1.0,
            }],
        };
        let html = creators_section(&[creator], 1);
        assert!(!html.contains("<img"), "{html}");
        assert!(
            !html.contains("evil"),
            "only #rrggbb colours are used: {html}"
        );
    }

    #[test]
    fn sparklines_scale_and_break_at_nulls() {
        let svg = sparkline(&[Some(10), Some(20), None, Some(30), Some(10)], 104, 24);
        assert_eq!(
            svg.matches("<polyline").count(),
            2,
            "a gap at the null: {svg}"
        );
        assert_eq!(svg.matches("<circle").count(), 0);
        assert!(svg.contains("points=\"2.0,22.0 27.0,12.0\""), "{svg}");
        assert!(sparkline(&[None, None], 10, 10).contains("no data"));
        assert!(sparkline(&[Some(5)], 10, 10).contains("<circle"));
    }

    #[test]
    fn reasons_group_by_kind() {
        assert_eq!(
            reason_kind("post 1790 of user 42, original: HTTP 404 Not Found"),
            "post N of user N, original: HTTP N Not Found"
        );
    }

    #[test]
    fn the_page_has_every_section_and_no_script() {
        let page = Page {
            date: "2024-05-06".into(),
            generated_at: "now".into(),
            runs: vec![],
            rejects: vec![],
            checks: None,
            creators: vec![],
            creators_total: 0,
        };
        let html = render(&page);
        for section in ["Runs", "Rejects by reason", "Quality checks", "Creators"] {
            assert!(html.contains(&format!("<h2>{section}")), "{section}");
        }
        assert!(
            !html.contains("<script") && !html.contains("http"),
            "self-contained: {html}"
        );
    }
}
