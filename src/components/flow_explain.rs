//! Why the models decided what they did about the shown flow (a flow of
//! the capture, or one opened from a share link): model tabs, the method
//! switch, every model's answer on the (edited) input, packet bars, the
//! byte heatmap, and beside it the field tree, the C4.5 decision path or
//! the k-NN neighbours; below, what-if editing and share/export.
//!
//! It asks the worker ([`crate::explain`]) whenever the flow, the model,
//! the method, the edits or the selected packet change; only the newest
//! answer is shown.
//!
//! Test hooks: `data-testid="flow-explain"` (`data-flow`, `data-model`,
//! `data-method`, `data-state`: `loading`/`ready`/`error`),
//! `data-testid="explain-prediction"` per model (`data-model`,
//! `data-label`), `data-testid="packet-bars"`, `data-testid="field-tree"`,
//! `data-testid="decision-path"`, `data-testid="neighbours"`, and on
//! errors (a hostile share link) `data-testid="error"`.

use std::collections::HashSet;
use std::rc::Rc;

use flowlens_core::explain::{AttentionLevel, Method, DEFAULT_IG_STEPS};
use yew::prelude::*;

use super::heatmap::Heatmap;
use super::share_export::ShareExport;
use super::use_app;
use super::what_if::WhatIf;
use crate::explain::{ExplainRequest, ExplainView, Subject};
use crate::explain_state::{ExplainAction, WorkerLink};
use crate::protocol::ToWorker;
use crate::state::{Action, Models, Shared};

/// The methods offered for an architecture: (label, method).
fn methods(architecture: &str) -> Vec<(&'static str, Method)> {
    let grad = [
        ("Gradient × input", Method::GradientInput),
        (
            "Integrated gradients",
            Method::IntegratedGradients {
                steps: DEFAULT_IG_STEPS,
            },
        ),
    ];
    match architecture {
        "han" => {
            let mut m = vec![(
                "Attention",
                Method::Attention {
                    level: AttentionLevel::Combined,
                },
            )];
            m.extend(grad);
            m
        }
        "c45" | "knn" => Vec::new(),
        _ => grad.to_vec(),
    }
}

fn short(architecture: &str) -> &'static str {
    match architecture {
        "cnn" => "CNN",
        "lstm" => "LSTM",
        "sae" => "SAE",
        "han" => "HAN",
        "c45" => "C4.5",
        "knn" => "k-NN",
        _ => "model",
    }
}

#[function_component(FlowExplain)]
pub fn flow_explain() -> Html {
    let state = use_app();
    let link = use_context::<WorkerLink>();
    let next_req = use_mut_ref(|| 0u32);
    // The byte under the pointer or keyboard cursor (named below the grid),
    // and the byte picked with a click or Enter (what-if edits it).
    let cursor = use_state(|| (0usize, 0usize));
    let picked = use_state(|| (0usize, 0usize));
    let ex = &state.explain;

    // What to ask: the share link, else the selected flow once models run.
    let subject = match (&ex.shared, state.selected_flow) {
        (Some(fragment), _) => Some(Subject::Shared {
            fragment: fragment.clone(),
        }),
        (None, Some(flow)) if !state.inference.models.0.is_empty() => Some(Subject::Flow {
            job: state.job,
            run: state.inference.run,
            flow,
        }),
        _ => None,
    };
    let models_known = !matches!(state.models, Models::Loading);
    {
        let dispatcher = state.dispatcher();
        let key = (
            subject.clone(),
            ex.model.clone(),
            ex.method,
            ex.edits.clone(),
            ex.selected_packet,
            models_known,
        );
        let next_req = next_req.clone();
        let link = link.clone();
        use_effect_with(
            key,
            move |(subject, model, method, edits, selected_packet, known)| {
                if let (Some(subject), true, Some(link)) = (subject.clone(), *known, link) {
                    let req = {
                        let mut r = next_req.borrow_mut();
                        *r = r.wrapping_add(1).max(1);
                        *r
                    };
                    dispatcher.dispatch(Action::Explain(ExplainAction::Requested(req)));
                    link.0.emit(ToWorker::Explain(ExplainRequest {
                        req,
                        subject,
                        model: model.clone(),
                        method: *method,
                        edits: edits.clone(),
                        selected_packet: *selected_packet,
                    }));
                }
            },
        );
    }
    // Another flow: back to its first byte.
    {
        let (cursor, picked) = (cursor.clone(), picked.clone());
        use_effect_with(ex.selected_packet.is_none(), move |fresh| {
            if *fresh {
                cursor.set((0, 0));
                picked.set((0, 0));
            }
        });
    }

    // A view selecting another packet than the picked byte's (a share link
    // made on packet k): the cursor and the what-if editor go to packet k.
    {
        let (cursor, picked) = (cursor.clone(), picked.clone());
        let shown = ex.view.as_ref().and_then(|v| v.0.selected_packet);
        use_effect_with(shown, move |shown| {
            if let Some(p) = shown.map(usize::from) {
                if picked.0 != p {
                    cursor.set((p, 0));
                    picked.set((p, 0));
                }
            }
        });
    }

    let Some(subject) = subject else {
        return html! {};
    };
    let dispatch = {
        let d = state.dispatcher();
        move |a: ExplainAction| d.dispatch(Action::Explain(a))
    };
    let view = ex.view.clone();
    let loading = view.as_ref().is_none_or(|v| v.0.req != ex.req) && ex.error.is_none();
    let shared = matches!(subject, Subject::Shared { .. });
    let title = match (&subject, &view) {
        (Subject::Flow { flow, .. }, _) => format!("Why: flow {}", flow + 1),
        (Subject::Shared { .. }, Some(v)) => format!("Shared view · {}", v.0.pack_title),
        (Subject::Shared { .. }, None) => "Shared view".to_string(),
    };
    let close = {
        let d = state.dispatcher();
        Callback::from(move |_: MouseEvent| {
            if shared {
                clear_fragment();
                d.dispatch(Action::Explain(ExplainAction::CloseShared));
            } else {
                d.dispatch(Action::SelectFlow(None));
            }
        })
    };
    let data_state = if ex.error.is_some() {
        "error"
    } else if loading {
        "loading"
    } else {
        "ready"
    };

    let body = match (&ex.error, &view) {
        (Some(e), _) => html! {
            <div class="error-banner" role="alert" data-testid="error">
                <p class="error-title">{ if shared { "This share link cannot be shown" } else { "This flow cannot be explained" } }</p>
                <p class="error-message">{ e }</p>
                if shared { <p class="error-kept">{ "Nothing was sent anywhere: links are read in this tab. Ask for a new link, or drop a capture to explore your own flows." }</p> }
            </div>
        },
        (None, None) => html! { <p class="note">{ "Asking the models…" }</p> },
        (None, Some(v)) => {
            let model_tabs = model_tabs(&v.0, &dispatch);
            let method_switch = method_switch(&v.0, ex.method, &dispatch);
            let highlight = Shared(Rc::new(tree_bytes(&v.0)));
            let on_cursor = {
                let cursor = cursor.clone();
                Callback::from(move |c| cursor.set(c))
            };
            let on_pick = {
                let d = state.dispatcher();
                let picked = picked.clone();
                Callback::from(move |(p, b): (usize, usize)| {
                    picked.set((p, b));
                    d.dispatch(Action::Explain(ExplainAction::SelectPacket(Some(p as u16))))
                })
            };
            let original_labels = state
                .detail
                .as_ref()
                .map(|d| d.0.models.clone())
                .unwrap_or_default();
            html! {
                <>
                    { model_tabs }
                    <div class="explain-toolbar">
                        { method_switch }
                        <p class="note">{ explain_note(&v.0) }</p>
                    </div>
                    { predictions(&v.0, &original_labels) }
                    <div class="explain-grid">
                        <div class="explain-main">
                            { packet_bars(&v.0) }
                            <Heatmap view={v.clone()} {highlight} cursor={*cursor} {on_cursor} {on_pick} />
                        </div>
                        <div class="explain-side">
                            <super::reasons::Reasons view={v.clone()} selected={picked.0} />
                        </div>
                    </div>
                    <div class="explain-bottom">
                        <WhatIf view={v.clone()} cursor={*picked} />
                        <ShareExport view={v.clone()} />
                    </div>
                </>
            }
        }
    };

    html! {
        <section class="flow-explain" aria-label="Why the models decided" data-testid="flow-explain"
            data-state={data_state}
            data-flow={view.as_ref().and_then(|v| v.0.flow).map(|f| f.to_string()).unwrap_or_default()}
            data-model={view.as_ref().map(|v| v.0.model_id.clone()).unwrap_or_default()}
            data-method={view.as_ref().and_then(|v| v.0.method).map(|m| m.name()).unwrap_or("")}>
            <div class="detail-head">
                <h2 class="section-title">{ title }</h2>
                if loading { <span class="spinner" aria-label="computing">{ "computing…" }</span> }
                <button type="button" class="close" aria-label="Close the explanation" onclick={close}>{ "×" }</button>
            </div>
            { body }
        </section>
    }
}

/// Removes the share fragment from the address bar (without reloading).
fn clear_fragment() {
    if let Some(w) = web_sys::window() {
        let loc = w.location();
        let url = format!(
            "{}{}",
            loc.pathname().unwrap_or_default(),
            loc.search().unwrap_or_default()
        );
        if let Ok(h) = w.history() {
            let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
        }
    }
}

fn explain_note(v: &ExplainView) -> String {
    let what = match (v.architecture.as_str(), v.method) {
        ("c45", _) => "The decision path: each test the tree made and the header bytes it read (outlined on the grid).".to_string(),
        ("knn", _) => "The three nearest flows of the model's reference set, in its standardised feature space.".to_string(),
        (_, Some(Method::Attention { .. })) => "HAN's own attention: packet weight × byte weight, summing to 1.".to_string(),
        (_, Some(Method::GradientInput)) => "Gradient × input for the predicted class: blue bytes push towards it, red ones away.".to_string(),
        (_, Some(Method::IntegratedGradients { steps })) => format!("Integrated gradients from an all-zero input in {steps} steps: blue for, red against the predicted class."),
        _ => String::new(),
    };
    let view = match v.view.as_str() {
        "key" => " This model's view keeps only ports, lengths and protocol; hatched bytes are hidden from it.",
        "all" => " This model sees every header byte but the addresses (zeroed).",
        _ => " Hatched bytes are hidden by this model's view.",
    };
    format!("{what}{view}")
}

fn model_tabs(v: &ExplainView, dispatch: &(impl Fn(ExplainAction) + Clone + 'static)) -> Html {
    html! {
        <div class="model-tabs" role="tablist" aria-label="Model to explain">
            { for v.predictions.iter().map(|o| {
                let selected = o.id == v.model_id;
                let arch = o.id.rsplit('.').next().unwrap_or("");
                let onclick = {
                    let dispatch = dispatch.clone();
                    let id = o.id.clone();
                    Callback::from(move |_: MouseEvent| dispatch(ExplainAction::Model(Some(id.clone()))))
                };
                html! {
                    <button type="button" role="tab" aria-selected={selected.to_string()}
                        class={classes!("tab", selected.then_some("active"))} data-model={o.id.clone()} {onclick}>
                        { short(arch) }
                    </button>
                }
            }) }
        </div>
    }
}

/// `asked`: the method last asked for (shown checked while it computes).
fn method_switch(
    v: &ExplainView,
    asked: Option<Method>,
    dispatch: &(impl Fn(ExplainAction) + Clone + 'static),
) -> Html {
    let shown = asked.or(v.method).map(|m| m.name());
    let options = methods(&v.architecture);
    if options.is_empty() {
        return html! {};
    }
    html! {
        <fieldset class="method-switch">
            <legend class="visually-hidden">{ "Attribution method" }</legend>
            { for options.into_iter().map(|(label, m)| {
                let checked = shown == Some(m.name());
                let onchange = {
                    let dispatch = dispatch.clone();
                    Callback::from(move |_: Event| dispatch(ExplainAction::Method(Some(m))))
                };
                html! {
                    <label class={classes!("seg", checked.then_some("active"))}>
                        <input type="radio" name="method" value={m.name()} {checked} {onchange} />
                        { label }
                    </label>
                }
            }) }
        </fieldset>
    }
}

fn predictions(v: &ExplainView, original: &[crate::protocol::ModelOutput]) -> Html {
    let edited = !v.edits.is_empty();
    html! {
        <ul class="explain-predictions" aria-label="What each model says about this input">
            { for v.predictions.iter().map(|o| {
                let arch = o.id.rsplit('.').next().unwrap_or("");
                let label = v.label_of(&o.id).unwrap_or("?").to_string();
                let conf = o.probabilities.get(o.label as usize).copied().unwrap_or(0.0);
                let before = original.iter().find(|b| b.id == o.id).and_then(|b| v.classes.get(b.label as usize)).cloned();
                let flipped = edited && before.as_deref().is_some_and(|b| b != label);
                html! {
                    <li class={classes!("pred", (o.id == v.model_id).then_some("active"), flipped.then_some("flipped"))}
                        data-testid="explain-prediction" data-model={o.id.clone()} data-label={label.clone()}>
                        <span class="model-name">{ short(arch) }</span>
                        if let Some(e) = &o.error {
                            <span class="note">{ e }</span>
                        } else {
                            <span class="model-label">{ &label }</span>
                            <span class="num dim">{ format!("{:.0} %", conf * 100.0) }</span>
                            if flipped {
                                <span class="was">{ format!("was {}", before.unwrap_or_default()) }</span>
                            }
                        }
                    </li>
                }
            }) }
        </ul>
    }
}

fn packet_bars(v: &ExplainView) -> Html {
    if v.packet_weights.is_empty() {
        return html! {};
    }
    const ROW: u32 = 18;
    const LABEL: u32 = 74;
    const BAR: u32 = 300;
    let max = v
        .packet_weights
        .iter()
        .fold(0.0f32, |m, &w| m.max(w))
        .max(1e-9);
    let title = if v.architecture == "han" {
        "Packet attention (HAN)"
    } else {
        "Share of the attribution per packet"
    };
    let h = ROW * v.packet_weights.len() as u32 + 2;
    html! {
        <figure class="packet-bars">
            <figcaption>{ title }</figcaption>
            <svg data-testid="packet-bars" viewBox={format!("0 0 {} {h}", LABEL + BAR + 60)} role="img"
                aria-label={v.packet_weights.iter().enumerate().map(|(i, w)| format!("packet {}: {:.1} %", i + 1, w * 100.0)).collect::<Vec<_>>().join(", ")}>
                { for v.packet_weights.iter().enumerate().map(|(i, &w)| {
                    let y = i as u32 * ROW;
                    let width = ((w / max) * BAR as f32).round().max(0.0);
                    let absent = v.field_map.get(i).is_none();
                    html! {
                        <g class={classes!("pbar", absent.then_some("absent"))}>
                            <text x={(LABEL - 6).to_string()} y={(y + 13).to_string()} text-anchor="end" class="bar-label">{ format!("packet {}", i + 1) }</text>
                            <rect x={LABEL.to_string()} y={(y + 3).to_string()} width={width.to_string()} height={(ROW - 6).to_string()} rx="2" />
                            <text x={(LABEL as f32 + width + 6.0).to_string()} y={(y + 13).to_string()} class="bar-count">{ format!("{:.1} %", w * 100.0) }</text>
                        </g>
                    }
                }) }
            </svg>
        </figure>
    }
}

/// The bytes the C4.5 path read: `(packet, byte)`.
fn tree_bytes(v: &ExplainView) -> HashSet<(usize, usize)> {
    let mut out = HashSet::new();
    if let Some(t) = &v.tree {
        for step in &t.path {
            for span in &step.source.bytes {
                for b in span.start..span.start + span.len {
                    out.insert((span.packet, b));
                }
            }
        }
    }
    out
}
