//! How the flows divide between classes, by the model (or the majority of
//! models) the filter bar names: an SVG bar chart. Clicking a bar filters
//! the table by that class.

use yew::prelude::*;

use super::use_app;
use crate::format;
use crate::state::{Action, ByModel, Filter, Inference};

/// Geometry of the chart, in SVG user units.
const ROW: u32 = 22;
const LABEL_W: u32 = 150;
const BAR_W: u32 = 380;
const COUNT_W: u32 = 90;

/// Flows per class (in the models' class order) and flows not yet labelled.
pub fn class_counts(inf: &Inference, by: ByModel, flows: usize) -> (Vec<(String, u64)>, u64) {
    let Some(first) = inf.models.0.first() else {
        return (Vec::new(), flows as u64);
    };
    let mut counts: Vec<(String, u64)> = first.classes.iter().map(|c| (c.clone(), 0)).collect();
    let mut pending = 0;
    for i in 0..flows {
        match inf.label_by(by, i) {
            Some(label) => match counts.iter_mut().find(|(c, _)| c == label) {
                Some((_, n)) => *n += 1,
                None => counts.push((label.to_string(), 1)),
            },
            None => pending += 1,
        }
    }
    (counts, pending)
}

#[function_component(ClassChart)]
pub fn class_chart() -> Html {
    let state = use_app();
    let by = state.filter.by;
    let n = state.flows.0.len();
    let counts = use_memo((state.inference.clone(), by, n), |(inf, by, n)| {
        class_counts(inf, *by, *n)
    });
    if state.inference.models.0.is_empty() || n == 0 {
        return html! {};
    }
    let (counts, pending) = &*counts;
    let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let height = ROW * counts.len() as u32 + 4;
    let width = LABEL_W + BAR_W + COUNT_W;
    let who = match by {
        ByModel::Majority => "the majority of models".to_string(),
        ByModel::Model(m) => state
            .inference
            .models
            .0
            .get(m)
            .map(|m| m.short.clone())
            .unwrap_or_default(),
    };
    let selected = state.filter.class.clone();

    html! {
        <section class="chart" aria-label="Flows per predicted class">
            <h2 class="section-title">{ format!("Flows per class, according to {who}") }</h2>
            <svg
                data-testid="class-chart"
                class="class-chart"
                viewBox={format!("0 0 {width} {height}")}
                role="img"
                aria-label={counts.iter().map(|(c, n)| format!("{c}: {n}")).collect::<Vec<_>>().join(", ")}
            >
                { for counts.iter().enumerate().map(|(row, (class, count))| {
                    let y = row as u32 * ROW + 2;
                    let w = ((*count as f64 / max as f64) * f64::from(BAR_W)).round().max(if *count > 0 { 1.0 } else { 0.0 });
                    let onclick = {
                        let dispatcher = state.dispatcher();
                        let filter = state.filter.clone();
                        let class = class.clone();
                        Callback::from(move |_: MouseEvent| {
                            let same = filter.class.as_deref() == Some(class.as_str());
                            dispatcher.dispatch(Action::SetFilter(Filter {
                                class: if same { None } else { Some(class.clone()) },
                                ..filter.clone()
                            }))
                        })
                    };
                    let active = selected.as_deref() == Some(class.as_str());
                    html! {
                        <g class={classes!("bar", active.then_some("active"))} {onclick} data-class={class.clone()} data-count={count.to_string()}>
                            <title>{ format!("{class}: {} flows", format::count(*count)) }</title>
                            <text x={(LABEL_W - 8).to_string()} y={(y + ROW / 2 + 4).to_string()} class="bar-label" text-anchor="end">{ class }</text>
                            <rect x={LABEL_W.to_string()} y={(y + 3).to_string()} width={w.to_string()} height={(ROW - 6).to_string()} rx="2" />
                            <text x={(LABEL_W + w as u32 + 6).to_string()} y={(y + ROW / 2 + 4).to_string()} class="bar-count">{ format::count(*count) }</text>
                        </g>
                    }
                }) }
            </svg>
            if *pending > 0 {
                <p class="note">{ format!("{} flows not classified yet.", format::count(*pending)) }</p>
            }
        </section>
    }
}
