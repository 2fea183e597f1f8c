//! Shortcut audit on the user's own capture (issue 5; no labels needed):
//! for each model, how many predictions change when one field group is
//! randomised (`flowlens_core::explain` perturbation, seeded), as a chart
//! of flip rates, with the flows that flip listed and openable in the
//! flow view.
//!
//! Test hooks: `data-testid="audit-panel"` (`data-state`:
//! `idle`/`running`/`done`), `data-testid="audit-run"`, one
//! `data-testid="audit-row"` per model × group (`data-model`, `data-group`,
//! `data-flipped`, `data-flows`), `data-testid="audit-flow"` buttons
//! (`data-flow`) that open a flipped flow.

use flowlens_core::explain::AUDIT_GROUPS;
use yew::prelude::*;

use super::use_app;
use crate::explain::{AnalysisKind, AnalysisRequest, AuditRow};
use crate::explain_state::{next_analysis_req, ExplainAction, WorkerLink};
use crate::format;
use crate::protocol::ToWorker;
use crate::state::{Action, InferenceStatus};

/// Flipped flows listed per row.
const LIST: usize = 12;

#[function_component(AuditPanel)]
pub fn audit_panel() -> Html {
    let state = use_app();
    let link = use_context::<WorkerLink>();
    let open_row = use_state(|| None::<(String, String)>);
    let inf = &state.inference;
    if inf.models.0.is_empty() || state.flows.0.is_empty() {
        return html! {};
    }
    let a = &state.explain.audit;
    let ready = matches!(inf.status, InferenceStatus::Done | InferenceStatus::Failed);
    let run = {
        let d = state.dispatcher();
        let (job, run) = (state.job, inf.run);
        Callback::from(move |_: MouseEvent| {
            let req = next_analysis_req();
            d.dispatch(Action::Explain(ExplainAction::AnalysisRequested {
                req,
                kind: AnalysisKind::Audit,
            }));
            if let Some(l) = &link {
                l.0.emit(ToWorker::Analyse(AnalysisRequest {
                    req,
                    job,
                    run,
                    kind: AnalysisKind::Audit,
                }));
            }
        })
    };
    let models = inf.models.0.clone();
    let data_state = if a.running {
        "running"
    } else if a.done() {
        "done"
    } else {
        "idle"
    };
    let max_rate = a.rows.iter().map(rate).fold(0.0f64, f64::max).max(1e-9);
    let status = if a.running {
        format!(
            "Perturbing… {} of {} model × group steps",
            a.rows.len(),
            a.steps.max(1)
        )
    } else if a.done() {
        format!(
            "Over the first {} of {} flows; each group's bytes replaced by seeded noise (the same capture gives the same table).",
            format::count(u64::from(a.flows)),
            format::count(u64::from(a.of))
        )
    } else {
        String::new()
    };

    html! {
        <section class="audit-panel panel" data-testid="audit-panel" data-state={data_state} aria-label="Shortcut audit">
            <div class="panel-head">
                <h2 class="section-title">{ "Shortcut audit: which fields flip the predictions" }</h2>
                <button type="button" data-testid="audit-run" onclick={run} disabled={!ready || a.running}>
                    { if a.done() { "Run again" } else { "Run the audit" } }
                </button>
            </div>
            <p class="note">{ "No labels needed: for every model, each field group is randomised in turn and the flows whose predicted class changes are counted. A model that flips on TTL, IP ID or TCP options is reading the network, not the application." }</p>
            if !status.is_empty() { <p class="note" aria-live="polite">{ status }</p> }
            if let Some(e) = &a.error { <p class="note warn">{ e }</p> }
            { for a.failed.iter().map(|(m, e)| html! { <p class="note warn">{ format!("{m}: {e}") }</p> }) }
            if !a.rows.is_empty() {
                <div class="audit-table-wrap">
                    <table class="audit-table">
                        <thead>
                            <tr>
                                <th scope="col">{ "Field group" }</th>
                                { for models.iter().map(|m| html! { <th scope="col" class="num">{ &m.short }</th> }) }
                            </tr>
                        </thead>
                        <tbody>
                            { for AUDIT_GROUPS.iter().map(|g| {
                                let site = g.is_site_dependent();
                                html! {
                                    <tr class={classes!(site.then_some("site"))}>
                                        <th scope="row">{ g.name().replace('_', " ") }{ if site { html! { <span class="tag">{ "site" }</span> } } else { html! {} } }</th>
                                        { for models.iter().map(|m| {
                                            match a.rows.iter().find(|r| r.model == m.id && r.group == *g) {
                                                None => html! { <td class="num dim">{ if a.running { "…" } else { "–" } }</td> },
                                                Some(r) => {
                                                    let key = (r.model.clone(), g.name().to_string());
                                                    let is_open = open_row.as_ref() == Some(&key);
                                                    let onclick = {
                                                        let open_row = open_row.clone();
                                                        Callback::from(move |_: MouseEvent| {
                                                            open_row.set(if is_open { None } else { Some(key.clone()) })
                                                        })
                                                    };
                                                    let level = ((rate(r) / max_rate) * 8.0).round().clamp(0.0, 8.0) as u8;
                                                    html! {
                                                        <td class={classes!("num", "audit-cell", format!("l{level}"))} data-testid="audit-row"
                                                            data-model={r.model.clone()} data-group={g.name()}
                                                            data-flipped={r.flipped.len().to_string()} data-flows={r.flows.to_string()}>
                                                            if r.bytes_changed == 0 {
                                                                <span class="dim" title="the group is absent from these flows, or the model's view hides it">{ "n/a" }</span>
                                                            } else if r.flipped.is_empty() {
                                                                <span>{ "0" }</span>
                                                            } else {
                                                                <button type="button" class="linkish" aria-expanded={is_open.to_string()} {onclick}
                                                                    title={format!("{} of {} flows flip", r.flipped.len(), r.flows)}>
                                                                    { format!("{} ({:.0} %)", r.flipped.len(), rate(r) * 100.0) }
                                                                </button>
                                                            }
                                                        </td>
                                                    }
                                                }
                                            }
                                        }) }
                                    </tr>
                                }
                            }) }
                        </tbody>
                    </table>
                </div>
                { flipped_list(&state, &a.rows, open_row.as_ref()) }
            }
        </section>
    }
}

fn rate(r: &AuditRow) -> f64 {
    if r.flows == 0 {
        0.0
    } else {
        r.flipped.len() as f64 / f64::from(r.flows)
    }
}

fn flipped_list(
    state: &crate::state::AppContext,
    rows: &[AuditRow],
    open: Option<&(String, String)>,
) -> Html {
    let Some((model, group)) = open else {
        return html! {};
    };
    let Some(r) = rows
        .iter()
        .find(|r| &r.model == model && r.group.name() == group)
    else {
        return html! {};
    };
    let info = state.inference.models.0.iter().find(|m| &m.id == model);
    let class = |c: u16| {
        info.and_then(|m| m.classes.get(c as usize))
            .cloned()
            .unwrap_or_else(|| "?".into())
    };
    html! {
        <div class="audit-flows" data-testid="audit-flows">
            <h3>{ format!("{}: flows that change class when {} is randomised", info.map(|m| m.short.as_str()).unwrap_or(model), group.replace('_', " ")) }</h3>
            <ul>
                { for r.flipped.iter().zip(&r.changes).take(LIST).map(|(&i, &(before, after))| {
                    let flow = state.flows.0.get(i as usize);
                    let onclick = {
                        let d = state.dispatcher();
                        let model = model.clone();
                        Callback::from(move |_: MouseEvent| {
                            d.dispatch(Action::SelectFlow(Some(i)));
                            d.dispatch(Action::Explain(ExplainAction::Model(Some(model.clone()))));
                            scroll_to_explain();
                        })
                    };
                    html! {
                        <li>
                            <button type="button" class="linkish" data-testid="audit-flow" data-flow={i.to_string()} {onclick}>
                                { format!("Flow {}", i + 1) }
                            </button>
                            { flow.map(|f| format!(" {} {}:{} → {}:{}", f.proto, f.src, f.sport, f.dst, f.dport)).unwrap_or_default() }
                            <span class="dim">{ format!(" · {} → {}", class(before), class(after)) }</span>
                        </li>
                    }
                }) }
            </ul>
            if r.flipped.len() > LIST { <p class="note">{ format!("and {} more", r.flipped.len() - LIST) }</p> }
        </div>
    }
}

/// Brings the explanation view into sight once it renders.
fn scroll_to_explain() {
    let cb = wasm_bindgen::closure::Closure::once_into_js(|| {
        if let Some(el) = web_sys::window().and_then(|w| w.document()).and_then(|d| {
            d.query_selector("[data-testid=flow-explain]")
                .ok()
                .flatten()
        }) {
            el.scroll_into_view();
        }
    });
    if let Some(w) = web_sys::window() {
        let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
            wasm_bindgen::JsCast::unchecked_ref(&cb),
            50,
        );
    }
}
