//! The flows, one row each, sortable by every column, with each model's
//! prediction and how far the models agree.
//!
//! Virtualised above [`RENDER_ALL_MAX`] flows: only the rows in view (plus a
//! margin) are in the document, between two spacer rows whose heights stand
//! for the others, so a capture with 100,000 flows scrolls as smoothly as one
//! with ten. Up to [`RENDER_ALL_MAX`] flows every row is in the document, so
//! the foundation's hook contract (one `flow-row` per flow) holds for any
//! capture of ordinary size without scrolling. Rows have a fixed height
//! ([`ROW_PX`], also in `www/style.css`).
//!
//! Stable test hooks on each rendered row: `data-testid="flow-row"`,
//! `data-index` (capture order, from 0) and the 5-tuple in `data-proto`,
//! `data-src`, `data-sport`, `data-dst`, `data-dport`, written as `trainer
//! flows --json` writes them; inside, one `data-testid="prediction"` per
//! model with `data-model` (the manifest id) and `data-label`.

use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, KeyboardEvent};
use yew::prelude::*;

use super::use_app;
use crate::format;
use crate::protocol::FlowRow;
use crate::state::{sorted_order, Action, Column, Filter, Inference, Phase, NO_LABEL};

/// Height of one row in CSS pixels (`.flows tr.flow` in `www/style.css`).
pub const ROW_PX: f64 = 30.0;
/// Rows rendered above and below the visible ones.
const OVERSCAN: usize = 12;
/// Flows up to which every row is rendered (no virtualisation).
pub const RENDER_ALL_MAX: usize = 2_000;
/// Viewport height assumed before the table has been measured.
const DEFAULT_VIEW_PX: f64 = 600.0;

/// Indices of the flows `filter` lets through, in `order`.
pub fn filtered(order: &[u32], flows: &[FlowRow], inf: &Inference, filter: &Filter) -> Vec<u32> {
    if !filter.is_active() {
        return order.to_vec();
    }
    order
        .iter()
        .copied()
        .filter(|&i| {
            let Some(f) = flows.get(i as usize) else {
                return false;
            };
            filter.proto.as_ref().is_none_or(|p| &f.proto == p)
                && filter.port.is_none_or(|p| f.sport == p || f.dport == p)
                && filter
                    .class
                    .as_ref()
                    .is_none_or(|c| inf.label_by(filter.by, i as usize) == Some(c.as_str()))
        })
        .collect()
}

#[function_component(FlowTable)]
pub fn flow_table() -> Html {
    let state = use_app();
    let flows = state.flows.clone();
    let sort = state.sort;
    let order = use_memo((flows.clone(), sort), |(flows, sort)| {
        sorted_order(&flows.0, *sort)
    });
    // Predictions only matter to the filter when it filters by class.
    let inf_key = state
        .filter
        .class
        .is_some()
        .then(|| state.inference.clone());
    let shown = use_memo(
        (order.clone(), state.filter.clone(), inf_key),
        |(order, filter, inf)| {
            let empty = Inference::default();
            filtered(order, &flows.0, inf.as_ref().unwrap_or(&empty), filter)
        },
    );
    let wrap = use_node_ref();
    let top = use_node_ref();
    let bottom = use_node_ref();
    // (first row in view, viewport height in rows)
    let window = use_state_eq(|| (0usize, (DEFAULT_VIEW_PX / ROW_PX) as usize));

    let total = shown.len();
    let (first_visible, visible) = *window;
    let (first, last) = if total <= RENDER_ALL_MAX {
        (0, total)
    } else {
        (
            first_visible.saturating_sub(OVERSCAN).min(total),
            (first_visible + visible + OVERSCAN).min(total),
        )
    };

    // Spacer heights, through the CSSOM (the CSP forbids style attributes).
    {
        let (top, bottom) = (top.clone(), bottom.clone());
        use_effect_with((first, last, total), move |&(first, last, total)| {
            set_height(&top, first as f64 * ROW_PX);
            set_height(&bottom, (total - last) as f64 * ROW_PX);
        });
    }
    // Measure the viewport once mounted.
    {
        let (wrap, window) = (wrap.clone(), window.clone());
        use_effect_with(total, move |_| {
            if let Some(el) = wrap.cast::<HtmlElement>() {
                let rows = (f64::from(el.client_height()) / ROW_PX).ceil() as usize;
                let first = (f64::from(el.scroll_top()) / ROW_PX).floor() as usize;
                if rows > 0 {
                    window.set((first, rows));
                }
            }
        });
    }
    let onscroll = {
        let (wrap, window) = (wrap.clone(), window.clone());
        Callback::from(move |_: Event| {
            if let Some(el) = wrap.cast::<HtmlElement>() {
                let rows = (f64::from(el.client_height()) / ROW_PX).ceil().max(1.0) as usize;
                let first = (f64::from(el.scroll_top()) / ROW_PX).floor() as usize;
                window.set((first, rows));
            }
        })
    };

    if state.phase != Phase::Done {
        return html! {};
    }
    if flows.0.is_empty() {
        return html! { <p class="empty">{ "No flows were found in this capture." }</p> };
    }

    let inf = &state.inference;
    let models = inf.models.0.clone();
    let header = |column: Column| {
        let dispatcher = state.dispatcher();
        let onclick =
            Callback::from(move |_: MouseEvent| dispatcher.dispatch(Action::SortBy(column)));
        let aria_sort = match (sort.column == column, sort.descending) {
            (false, _) => "none",
            (true, false) => "ascending",
            (true, true) => "descending",
        };
        let arrow = match aria_sort {
            "ascending" => "▲",
            "descending" => "▼",
            _ => "",
        };
        html! {
            <th scope="col" aria-sort={aria_sort} class={classes!(column.is_numeric().then_some("num"))}>
                <button type="button" class="sort" {onclick}>
                    { column.title() }<span class="arrow" aria-hidden="true">{ arrow }</span>
                </button>
            </th>
        }
    };
    let columns = Column::ALL.len() + models.len() + usize::from(!models.is_empty());
    let selected = state.selected_flow;

    let row = |i: u32| {
        let Some(f) = flows.0.get(i as usize) else {
            return html! {};
        };
        let select = {
            let dispatcher = state.dispatcher();
            move || dispatcher.dispatch(Action::SelectFlow(Some(i)))
        };
        let onclick = {
            let select = select.clone();
            Callback::from(move |_: MouseEvent| select())
        };
        let onkeydown = Callback::from(move |e: KeyboardEvent| match e.key().as_str() {
            "Enter" | " " => {
                e.prevent_default();
                select();
            }
            // Move between rows; the browser scrolls the focused row into
            // view, which renders the rows around it.
            "ArrowDown" | "ArrowUp" => {
                e.prevent_default();
                let row: Option<web_sys::Element> = e.target_dyn_into();
                let next = row.and_then(|r| {
                    if e.key() == "ArrowDown" {
                        r.next_element_sibling()
                    } else {
                        r.previous_element_sibling()
                    }
                });
                if let Some(next) = next.and_then(|n| n.dyn_into::<HtmlElement>().ok()) {
                    if next.get_attribute("data-testid").as_deref() == Some("flow-row") {
                        let _ = next.focus();
                    }
                }
            }
            _ => {}
        });
        let is_selected = selected == Some(i);
        html! {
            <tr
                key={i}
                class={classes!("flow", is_selected.then_some("selected"))}
                tabindex="0"
                aria-selected={is_selected.to_string()}
                data-testid="flow-row"
                data-index={i.to_string()}
                data-proto={f.proto.clone()}
                data-src={f.src.clone()}
                data-sport={f.sport.to_string()}
                data-dst={f.dst.clone()}
                data-dport={f.dport.to_string()}
                {onclick}
                {onkeydown}
            >
                <td class="num dim">{ i + 1 }</td>
                <td>{ &f.proto }</td>
                <td class="addr" title={f.src.clone()}>{ &f.src }</td>
                <td class="num">{ f.sport }</td>
                <td class="addr" title={f.dst.clone()}>{ &f.dst }</td>
                <td class="num">{ f.dport }</td>
                <td class="num">{ format::count(f.packets) }</td>
                <td class="num">{ format::count(f.bytes) }</td>
                <td class="num">{ format::duration_ns(f.duration_ns) }</td>
                { for models.iter().zip(&inf.results).map(|(m, r)| {
                    let k = i as usize;
                    let label = r.0.labels.get(k).copied().filter(|&l| l != NO_LABEL);
                    match label.and_then(|l| m.classes.get(l as usize)) {
                        Some(name) => {
                            let conf = r.0.confidences.get(k).copied().unwrap_or(0.0);
                            html! {
                                <td class="pred">
                                    <span
                                        data-testid="prediction"
                                        data-model={m.id.clone()}
                                        data-label={name.clone()}
                                        class={classes!("label", confidence_class(conf))}
                                        title={format!("{}: {name}, {:.1} %", m.short, conf * 100.0)}
                                    >
                                        { name }<span class="conf">{ format!(" {:.0}%", conf * 100.0) }</span>
                                    </span>
                                </td>
                            }
                        }
                        None => html! { <td class="pred dim">{ if r.0.error.is_some() { "n/a" } else { "…" } }</td> },
                    }
                }) }
                if !models.is_empty() {
                    { agreement_cell(inf, i as usize) }
                }
            </tr>
        }
    };

    html! {
        <section class="flows" aria-label="Flows">
            <p class="table-caption">
                if total == flows.0.len() {
                    { if total == 1 { "1 flow".to_string() } else { format!("{} flows", format::count(total as u64)) } }
                } else {
                    { format!("{} of {} flows match the filters", format::count(total as u64), format::count(flows.0.len() as u64)) }
                }
            </p>
            <div class="table-wrap" ref={wrap} {onscroll} data-testid="flow-table">
                <table aria-rowcount={(total + 1).to_string()}>
                    <thead>
                        <tr>
                            { for Column::ALL.iter().map(|&c| header(c)) }
                            { for models.iter().map(|m| html! {
                                <th scope="col" class="pred" title={m.id.clone()}>{ &m.short }</th>
                            }) }
                            if !models.is_empty() {
                                <th scope="col" class="num" title="How many models give the most common label">{ "Agree" }</th>
                            }
                        </tr>
                    </thead>
                    <tbody>
                        <tr class="spacer" aria-hidden="true"><td colspan={columns.to_string()} ref={top}></td></tr>
                        { for shown.get(first..last).unwrap_or(&[]).iter().map(|&i| row(i)) }
                        <tr class="spacer" aria-hidden="true"><td colspan={columns.to_string()} ref={bottom}></td></tr>
                    </tbody>
                </table>
            </div>
        </section>
    }
}

fn agreement_cell(inf: &Inference, i: usize) -> Html {
    match inf.vote(i) {
        Some((label, agree, of)) => {
            let class = if agree == of {
                "agree-all"
            } else if agree * 2 > of {
                "agree-most"
            } else {
                "agree-split"
            };
            html! {
                <td class={classes!("num", "agree", class)} data-testid="agreement" data-agree={agree.to_string()} data-of={of.to_string()} title={format!("{agree} of {of} models say {label}")}>
                    { format!("{agree}/{of}") }
                </td>
            }
        }
        None => html! { <td class="num dim">{ "…" }</td> },
    }
}

fn confidence_class(c: f32) -> &'static str {
    if c >= 0.9 {
        "conf-high"
    } else if c >= 0.6 {
        "conf-mid"
    } else {
        "conf-low"
    }
}

fn set_height(node: &NodeRef, px: f64) {
    if let Some(el) = node.cast::<HtmlElement>() {
        let _ = el.style().set_property("height", &format!("{px}px"));
    }
}
