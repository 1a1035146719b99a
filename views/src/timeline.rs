//! A poll's votes per minute as a small bar chart, drawn on the server as SVG: one path
//! for every bar (a few bytes each, since every live frame carries it), a line where
//! voting closed, and a caption saying the same in words.

use std::fmt::Write;

use maud::{Markup, html};

use crate::components::count;
use crate::model::TimelineView;

/// Drawing units: each bar is 10 wide (8 drawn), the chart 40 high.
const BAR: i64 = 10;
const HEIGHT: i64 = 40;

/// The bars as one path: `M x 40 v -h h 8 v h z` per bar with votes.
fn bars_path(view: &TimelineView) -> String {
    let peak = view.bars.iter().copied().max().unwrap_or(0).max(1);
    let mut d = String::new();
    for (i, votes) in (0_i64..).zip(&view.bars) {
        if *votes > 0 {
            // At least one unit high, so a single vote shows.
            let h = (votes * HEIGHT / peak).max(1);
            let _ = write!(d, "M{} {HEIGHT}v-{h}h8v{h}z", i * BAR + 1);
        }
    }
    d
}

/// The chart with its caption.
pub fn figure(view: &TimelineView) -> Markup {
    let width = i64::try_from(view.bars.len()).unwrap_or(1).max(1) * BAR;
    let peak = view.bars.iter().copied().max().unwrap_or(0);
    let per = if view.minutes_per_bar == 1 { "minute".to_owned() } else { format!("{} minutes", view.minutes_per_bar) };
    html! {
        figure.timeline {
            svg viewBox={ "0 0 " (width) " " (HEIGHT + 2) } preserveAspectRatio="none" aria-hidden="true" focusable="false" {
                line.axis x1="0" x2=(width) y1=(HEIGHT + 1) y2=(HEIGHT + 1) {}
                path.bars d=(bars_path(view)) {}
                @if let Some(tenths) = view.close_tenths {
                    // A bar is 10 units wide: tenths of a bar are units.
                    line.close x1=(tenths) x2=(tenths) y1="0" y2=(HEIGHT + 2) {}
                }
            }
            figcaption {
                "Votes per " (per) ", " (view.from) " to " (view.to)
                " · most " (count(peak, "vote")) " in one"
                @if let Some(at) = &view.closed_at { " · closed " (at) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_busiest_minute_and_empty_minutes_draw_nothing() {
        let view = TimelineView {
            bars: vec![4, 0, 2, 1],
            minutes_per_bar: 1,
            close_tenths: Some(35),
            from: "14:00 UTC".into(),
            to: "14:04 UTC".into(),
            closed_at: Some("14:03 UTC".into()),
        };
        assert_eq!(bars_path(&view), "M1 40v-40h8v40zM21 40v-20h8v20zM31 40v-10h8v10z");
        let html = figure(&view).into_string();
        assert!(html.contains("viewBox=\"0 0 40 42\""), "{html}");
        assert!(html.contains("x1=\"35\""), "{html}");
        assert!(html.contains("Votes per minute, 14:00 UTC to 14:04 UTC · most 4 votes in one · closed 14:03 UTC"));
    }
}
