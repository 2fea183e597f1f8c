//! The model pack to run, how far the models are, and how fast they ran.
//!
//! Test hooks: `data-testid="inference-status"` (`idle`, `running`, `done`
//! when every model ran on every flow, `failed`); one
//! `data-testid="model-timing"` per model with `data-model`, and, once it
//! ran, `data-flows` and `data-compute-ms`.

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::use_app;
use crate::format;
use crate::state::{ModelResults, Models};

#[derive(Properties, PartialEq)]
pub struct ModelsPanelProps {
    /// The user picked this pack id.
    pub on_pack: Callback<String>,
}

#[function_component(ModelsPanel)]
pub fn models_panel(props: &ModelsPanelProps) -> Html {
    let state = use_app();
    let inf = &state.inference;
    let status = inf.status.as_str();
    let packs = match &state.models {
        Models::Loading => {
            return html! {
                <section class="models" aria-label="Models">
                    <p class="note" data-testid="models-status">{ "Loading the model list…" }</p>
                    <span class="visually-hidden" data-testid="inference-status">{ status }</span>
                </section>
            }
        }
        Models::Missing(note) => {
            return html! {
                <section class="models" aria-label="Models">
                    <p class="note" data-testid="models-status">
                        { format!("Flows only: {note}.") }
                    </p>
                    <span class="visually-hidden" data-testid="inference-status">{ status }</span>
                </section>
            }
        }
        Models::Broken(_) => {
            return html! {
                <section class="models" aria-label="Models">
                    <p class="note" data-testid="models-status">{ "Flows only: the models cannot be used (see above)." }</p>
                    <span class="visually-hidden" data-testid="inference-status">{ status }</span>
                </section>
            }
        }
        Models::Ready(packs) => packs.clone(),
    };
    let current = state.pack().map(|p| p.id.clone()).unwrap_or_default();
    let onchange = {
        let on_pack = props.on_pack.clone();
        Callback::from(move |e: Event| {
            let select: HtmlSelectElement = e.target_unchecked_into();
            on_pack.emit(select.value());
        })
    };
    let total = state.flows.0.len() as u64;

    html! {
        <section class="models" aria-label="Models">
            <div class="models-head">
                <label for="pack-select">{ "Model pack" }</label>
                <select id="pack-select" data-testid="pack-select" {onchange}>
                    { for packs.0.iter().map(|p| html! {
                        <option value={p.id.clone()} selected={p.id == current}>{ &p.title }</option>
                    }) }
                </select>
                <span class="inference">
                    <span class="label">{ "Models: " }</span>
                    <span data-testid="inference-status" class={classes!("phase", status)}>{ status }</span>
                </span>
            </div>
            if !inf.models.0.is_empty() {
                <ul class="model-list">
                    { for inf.models.0.iter().zip(&inf.results).map(|(m, r)| {
                        let r: &ModelResults = &r.0;
                        let (flows, ms, load_ms) = r.timing.map(|t| (t.flows.to_string(), format!("{:.3}", t.compute_ms), format!("{:.3}", t.load_ms))).unwrap_or_default();
                        html! {
                            <li
                                data-testid="model-timing"
                                data-model={m.id.clone()}
                                data-flows={flows}
                                data-compute-ms={ms}
                                data-load-ms={load_ms}
                                title={m.id.clone()}
                            >
                                <span class="model-name">{ &m.short }</span>
                                <span class="model-metric">{ format!("test accuracy {:.1} %", m.accuracy * 100.0) }</span>
                                <progress
                                    max={total.max(1).to_string()}
                                    value={u64::from(r.done).to_string()}
                                    aria-label={format!("{}: flows classified", m.short)}
                                />
                                <span class="model-rate">{ model_rate(r) }</span>
                            </li>
                        }
                    }) }
                </ul>
            }
        </section>
    }
}

fn model_rate(r: &ModelResults) -> String {
    if r.error.is_some() {
        return "not available".into();
    }
    match r.timing {
        Some(t) if t.compute_ms > 0.0 => format!(
            "{} flows/s",
            format::count((f64::from(t.flows) * 1000.0 / t.compute_ms) as u64)
        ),
        Some(_) => "done".into(),
        None => format!("{} done", format::count(u64::from(r.done))),
    }
}
