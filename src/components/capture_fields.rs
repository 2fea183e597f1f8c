//! Capture-wide: which header fields each deep model leans on over the
//! flows of the capture (HAN: its attention; CNN, LSTM, SAE:
//! gradient×input), as one bar chart of field groups per model. When
//! site-dependent fields carry most of a model's weight, it says so.
//!
//! Test hooks: `data-testid="capture-fields"`, `data-testid="capture-fields-run"`,
//! one `data-testid="field-model"` per model (`data-model`,
//! `data-site-share`, `data-dominates`).

use yew::prelude::*;

use super::use_app;
use crate::explain::{AnalysisKind, AnalysisRequest, FieldTotalsRow};
use crate::explain_state::{ExplainAction, WorkerLink};
use crate::format;
use crate::protocol::ToWorker;
use crate::state::{Action, InferenceStatus};

/// The sentence the page shows when a model leans on the network.
pub const SITE_SENTENCE: &str =
    "This model leans on fields that say more about the network than the application.";

const ROW: u32 = 18;
const LABEL: u32 = 150;
const BAR: u32 = 260;

#[function_component(CaptureFields)]
pub fn capture_fields() -> Html {
    let state = use_app();
    let link = use_context::<WorkerLink>();
    let inf = &state.inference;
    if inf.models.0.is_empty() || state.flows.0.is_empty() {
        return html! {};
    }
    let t = &state.explain.totals;
    let ready = matches!(inf.status, InferenceStatus::Done | InferenceStatus::Failed);
    let run = {
        let d = state.dispatcher();
        let (job, run) = (state.job, inf.run);
        Callback::from(move |_: MouseEvent| {
            let req = crate::explain_state::next_analysis_req();
            d.dispatch(Action::Explain(ExplainAction::AnalysisRequested {
                req,
                kind: AnalysisKind::FieldTotals,
            }));
            if let Some(l) = &link {
                l.0.emit(ToWorker::Analyse(AnalysisRequest {
                    req,
                    job,
                    run,
                    kind: AnalysisKind::FieldTotals,
                }));
            }
        })
    };
    let short = |id: &str| {
        inf.models
            .0
            .iter()
            .find(|m| m.id == id)
            .map(|m| m.short.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let status = if t.running {
        format!(
            "Computing… {} of {} models",
            t.rows.len() + t.failed.len(),
            t.steps.max(1)
        )
    } else if t.done() {
        format!(
            "Over the first {} of {} flows.",
            format::count(u64::from(t.flows)),
            format::count(u64::from(t.of))
        )
    } else {
        String::new()
    };
    html! {
        <section class="capture-fields panel" data-testid="capture-fields" aria-label="Header fields the models lean on"
            data-state={if t.running { "running" } else if t.done() { "done" } else { "idle" }}>
            <div class="panel-head">
                <h2 class="section-title">{ "What the models lean on, over the capture" }</h2>
                <button type="button" data-testid="capture-fields-run" onclick={run} disabled={!ready || t.running}>
                    { if t.done() { "Compute again" } else { "Compute" } }
                </button>
            </div>
            <p class="note">{ "Weight per header field group, averaged over flows: HAN's attention, gradient × input for the CNN, LSTM and SAE. Orange bars are site-dependent fields (TTL, IP ID, checksums, TCP seq/ack, window, options and timestamps, flags)." }</p>
            if !status.is_empty() { <p class="note" aria-live="polite">{ status }</p> }
            if let Some(e) = &t.error { <p class="note warn">{ e }</p> }
            { for t.failed.iter().map(|(m, e)| html! { <p class="note warn">{ format!("{}: {e}", short(m)) }</p> }) }
            <div class="field-models">
                { for t.rows.iter().map(|row| model_chart(row, &short(&row.model))) }
            </div>
        </section>
    }
}

fn method_label(m: flowlens_core::explain::Method) -> &'static str {
    use flowlens_core::explain::Method;
    match m {
        Method::Attention { .. } => "attention",
        Method::GradientInput => "gradient × input",
        Method::IntegratedGradients { .. } => "integrated gradients",
    }
}

fn model_chart(row: &FieldTotalsRow, name: &str) -> Html {
    let s = &row.summary;
    let groups: Vec<_> = s.per_group.iter().take(10).collect();
    let max = groups
        .iter()
        .map(|g| g.share)
        .fold(0.0f32, f32::max)
        .max(1e-9);
    let h = ROW * groups.len() as u32 + 2;
    let top_fields = s
        .per_field
        .iter()
        .take(4)
        .map(|f| format!("{} {:.0} %", f.field.name(), f.share * 100.0))
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        <figure class={classes!("field-model", s.site_dependent_dominates.then_some("alert"))} data-testid="field-model"
            data-model={row.model.clone()} data-site-share={format!("{:.4}", s.site_dependent_share)}
            data-dominates={s.site_dependent_dominates.to_string()}>
            <figcaption>
                <strong>{ name }</strong>
                <span class="dim">{ format!(" · {} · site-dependent {:.0} %", method_label(row.method), s.site_dependent_share * 100.0) }</span>
            </figcaption>
            if s.site_dependent_dominates {
                <p class="alert-text" role="note">{ SITE_SENTENCE }</p>
            }
            <svg viewBox={format!("0 0 {} {h}", LABEL + BAR + 60)} role="img"
                aria-label={groups.iter().map(|g| format!("{}: {:.1} %", g.group.name(), g.share * 100.0)).collect::<Vec<_>>().join(", ")}>
                { for groups.iter().enumerate().map(|(i, g)| {
                    let y = i as u32 * ROW;
                    let w = ((g.share / max) * BAR as f32).round();
                    html! {
                        <g class={classes!("fbar", g.site_dependent.then_some("site"))} data-group={g.group.name()}>
                            <title>{ format!("{}: {:.1} %", g.group.name(), g.share * 100.0) }</title>
                            <text x={(LABEL - 6).to_string()} y={(y + 13).to_string()} text-anchor="end" class="bar-label">{ g.group.name().replace('_', " ") }</text>
                            <rect x={LABEL.to_string()} y={(y + 3).to_string()} width={w.to_string()} height={(ROW - 6).to_string()} rx="2" />
                            <text x={(LABEL as f32 + w + 6.0).to_string()} y={(y + 13).to_string()} class="bar-count">{ format!("{:.1} %", g.share * 100.0) }</text>
                        </g>
                    }
                }) }
            </svg>
            <p class="note mono">{ top_fields }</p>
        </figure>
    }
}
