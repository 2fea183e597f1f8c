//! Totals of the last capture: packets, flows, and what was skipped.

use std::collections::BTreeMap;

use yew::prelude::*;

use super::use_app;
use crate::format;

#[function_component(SummaryPanel)]
pub fn summary_panel() -> Html {
    let state = use_app();
    let Some(summary) = state.summary.as_ref() else {
        return html! {};
    };
    let skipped_total: u64 = summary.skipped.values().sum();
    let p = &state.progress;

    html! {
        <section class="summary" aria-label="Summary">
            <dl class="totals">
                <div><dt>{ "Packets" }</dt><dd>{ format::count(summary.packets) }</dd></div>
                <div>
                    <dt>{ "Flows" }</dt>
                    <dd data-testid="flow-count">{ state.flows.0.len() }</dd>
                </div>
                <div><dt>{ "Skipped packets" }</dt><dd>{ format::count(skipped_total) }</dd></div>
                <div><dt>{ "Read" }</dt><dd>{ format::bytes(p.bytes_done) }</dd></div>
                if let Some(mem) = state.worker_memory_bytes {
                    <div>
                        <dt>{ "Worker memory" }</dt>
                        <dd data-testid="worker-memory" data-bytes={ mem.to_string() }>{ format::bytes(mem) }</dd>
                    </div>
                }
            </dl>
            if state.cancelled {
                <p class="note">
                    { format!(
                        "Stopped after {} of {}: the flows read until then are shown.",
                        format::bytes(p.bytes_done),
                        format::bytes(p.bytes_total),
                    ) }
                </p>
            }
            { breakdown("Skipped, by reason", &summary.skipped) }
            { breakdown("Tunnelled packets (flows use the outer headers; tunnels are counted, not opened)", &summary.tunnelled) }
        </section>
    }
}

fn breakdown(title: &str, counts: &BTreeMap<String, u64>) -> Html {
    if counts.is_empty() {
        return html! {};
    }
    html! {
        <details class="breakdown" open=true>
            <summary>{ title }</summary>
            <ul>
                { for counts.iter().map(|(reason, n)| html! {
                    <li><span class="reason">{ reason.replace('_', " ") }</span><span class="n">{ format::count(*n) }</span></li>
                }) }
            </ul>
        </details>
    }
}
