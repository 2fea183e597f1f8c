//! The selected flow: its 5-tuple and counts, every model's answer (class
//! probabilities and logits), and its first packets field by field.
//!
//! Test hooks: `data-testid="flow-detail"` with `data-index`; per model
//! `data-testid="detail-model"` with `data-model`, `data-label` and
//! `data-logits` (comma-separated, as computed in the worker).

use web_sys::KeyboardEvent;
use yew::prelude::*;

use super::use_app;
use crate::format;
use crate::protocol::ModelOutput;
use crate::state::Action;

#[function_component(FlowDetailPane)]
pub fn flow_detail_pane() -> Html {
    let state = use_app();
    let Some(index) = state.selected_flow else {
        return html! {};
    };
    let Some(flow) = state.flows.0.get(index as usize) else {
        return html! {};
    };
    let close = {
        let dispatcher = state.dispatcher();
        Callback::from(move |_: MouseEvent| dispatcher.dispatch(Action::SelectFlow(None)))
    };
    let onkeydown = {
        let dispatcher = state.dispatcher();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Escape" {
                dispatcher.dispatch(Action::SelectFlow(None));
            }
        })
    };
    let models = state.inference.models.0.clone();
    let detail = state.detail.clone();

    html! {
        <aside class="detail" aria-label="Flow detail" data-testid="flow-detail" data-index={index.to_string()} {onkeydown}>
            <div class="detail-head">
                <h2 class="section-title">{ format!("Flow {}", index + 1) }</h2>
                <button type="button" class="close" aria-label="Close the flow detail" onclick={close}>{ "×" }</button>
            </div>
            <p class="tuple">
                <span class="proto">{ &flow.proto }</span>
                { format!(" {}:{} → {}:{}", flow.src, flow.sport, flow.dst, flow.dport) }
            </p>
            <dl class="detail-facts">
                <div><dt>{ "Packets" }</dt><dd>{ format::count(flow.packets) }</dd></div>
                <div><dt>{ "Bytes" }</dt><dd>{ format::bytes(flow.bytes) }</dd></div>
                <div><dt>{ "Duration" }</dt><dd>{ format::duration_ns(flow.duration_ns) }</dd></div>
            </dl>
            if !models.is_empty() {
                <h3>{ "What the models say" }</h3>
                {
                    match &detail {
                        None => html! { <p class="note">{ "Asking the models…" }</p> },
                        Some(d) => html! {
                            <>
                                if let Some(e) = &d.0.error { <p class="note">{ e }</p> }
                                <ul class="detail-models">
                                    { for d.0.models.iter().map(|out| {
                                        let info = models.iter().find(|m| m.id == out.id);
                                        model_output(out, info.map(|m| m.short.as_str()).unwrap_or(&out.id), info.map(|m| m.classes.as_slice()).unwrap_or(&[]))
                                    }) }
                                </ul>
                            </>
                        },
                    }
                }
            }
            if let Some(d) = &detail {
                if !d.0.packets.is_empty() {
                    <h3>{ "First packets, field by field" }</h3>
                    { for d.0.packets.iter().enumerate().map(|(k, p)| html! {
                        <details class="packet">
                            <summary>{ format!("Packet {} · {:?} · {} bytes", k + 1, p.dir, p.ip_len) }</summary>
                            <table class="fields">
                                <tbody>
                                    { for p.fields.iter().filter(|f| f.field.name() != "padding").map(|f| html! {
                                        <tr>
                                            <td class="mono">{ f.field.name() }</td>
                                            <td class="num dim">{ format!("{}+{}", f.start, f.len) }</td>
                                            <td class="mono">{ &f.value }</td>
                                        </tr>
                                    }) }
                                </tbody>
                            </table>
                        </details>
                    }) }
                }
            }
        </aside>
    }
}

fn model_output(out: &ModelOutput, short: &str, classes: &[String]) -> Html {
    let label = classes
        .get(out.label as usize)
        .cloned()
        .unwrap_or_else(|| "?".into());
    let logits = out
        .logits
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join(",");
    if let Some(e) = &out.error {
        return html! {
            <li data-testid="detail-model" data-model={out.id.clone()} class="detail-model failed">
                <span class="model-name">{ short }</span><span class="note">{ e }</span>
            </li>
        };
    }
    let mut ranked: Vec<(usize, f32)> = out.probabilities.iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    html! {
        <li data-testid="detail-model" data-model={out.id.clone()} data-label={label.clone()} data-logits={logits} class="detail-model">
            <span class="model-name">{ short }</span>
            <span class="model-label">{ label }</span>
            <ul class="probs">
                { for ranked.iter().take(3).map(|&(c, p)| html! {
                    <li>
                        <span class="prob-class">{ classes.get(c).cloned().unwrap_or_default() }</span>
                        <meter min="0" max="1" value={p.to_string()} />
                        <span class="num">{ format!("{:.1} %", p * 100.0) }</span>
                    </li>
                }) }
            </ul>
        </li>
    }
}
