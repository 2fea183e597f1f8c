//! The worker's explanation commands ([`ToWorker::Explain`],
//! [`ToWorker::Analyse`]): the browser side of [`crate::explain`]. A child
//! module of [`crate::worker`], so it shares the worker's classifier cache
//! and flows.
//!
//! [`ToWorker::Explain`]: crate::protocol::ToWorker::Explain
//! [`ToWorker::Analyse`]: crate::protocol::ToWorker::Analyse

use std::rc::Rc;

use flowlens_core::classifier::Classifier;
use flowlens_core::explain::{
    predict_classes, sensitivity_row, EncodedFlows, FieldTotals, Method, Mode, SharePayload,
    AUDIT_GROUPS,
};
use flowlens_core::manifest::{Architecture, ModelEntry, Pack};
use flowlens_core::Flow;

use super::{now_ms, yield_to_event_loop, Worker, YIELD_EVERY_MS};
use crate::explain::{
    self, add_field_totals, AnalysisKind, AnalysisMsg, AnalysisRequest, AuditRow, ExplainReply,
    ExplainRequest, FieldTotalsRow, Loaded, PackRef, Source, Subject, AUDIT_MAX_FLOWS, AUDIT_SEED,
    FIELD_TOTALS_MAX_FLOWS,
};
use crate::protocol::FromWorker;

/// Flows attributed per call in the capture-wide view.
const TOTALS_BATCH: usize = 8;

impl Worker {
    /// Answer an [`ExplainRequest`].
    pub(super) async fn explain(&self, req: ExplainRequest) -> ExplainReply {
        let id = req.req;
        match self.explain_inner(req).await {
            Ok(view) => ExplainReply {
                req: id,
                view: Some(Box::new(view)),
                error: None,
            },
            Err(error) => ExplainReply {
                req: id,
                view: None,
                error: Some(error),
            },
        }
    }

    async fn explain_inner(&self, req: ExplainRequest) -> Result<explain::ExplainView, String> {
        let manifest = self
            .manifest
            .clone()
            .ok_or("no models are published on this page, so nothing can be explained")?;
        // The flow (or the decoded link), the pack and the model to explain.
        let (flow, payload, pack, model_id): (
            Option<(u32, Flow)>,
            Option<SharePayload>,
            &Pack,
            String,
        ) = match &req.subject {
            Subject::Flow { job, flow, .. } => {
                let f = self
                    .job_flows(*job)
                    .and_then(|fl| fl.get(*flow as usize).cloned())
                    .ok_or("this flow is no longer in memory; drop the capture again")?;
                let run_models = self.run_models.borrow().clone();
                let model_id = req
                    .model
                    .clone()
                    .or_else(|| run_models.first().map(|m| m.id.clone()))
                    .ok_or("no model has run on this capture")?;
                let pack = manifest
                    .packs
                    .iter()
                    .find(|p| p.models.iter().any(|m| m.id == model_id))
                    .ok_or_else(|| format!("model {model_id:?} is not in the manifest"))?;
                (Some((*flow, f)), None, pack, model_id)
            }
            Subject::Shared { fragment } => {
                let payload = SharePayload::decode(fragment)
                    .map_err(|e| format!("This share link cannot be opened: {e}."))?;
                let pack = manifest
                        .packs
                        .iter()
                        .find(|p| p.id == payload.pack_id)
                        .ok_or_else(|| {
                            format!(
                                "This share link was made with the model pack {:?}, which this page does not publish.",
                                payload.pack_id
                            )
                        })?;
                let model_id = req
                    .model
                    .clone()
                    .unwrap_or_else(|| payload.model_id.clone());
                (None, Some(payload), pack, model_id)
            }
        };
        let entry = pack
            .models
            .iter()
            .find(|m| m.id == model_id)
            .ok_or_else(|| format!("the pack {} has no model {model_id:?}", pack.id))?;
        if let Some(p) = &payload {
            let [pp, bb] = entry.representation.shape();
            if (p.packets as usize, p.bytes_per_packet as usize) != (pp, bb) {
                return Err(format!(
                    "This share link holds {} packets of {} bytes, but model {} reads {pp} × {bb}.",
                    p.packets, p.bytes_per_packet, entry.id
                ));
            }
        }
        // Every model of the pack, loaded (weights fetched once).
        let mut loaded: Vec<(ModelEntry, Result<Rc<Classifier>, String>)> = Vec::new();
        for e in &pack.models {
            loaded.push((e.clone(), self.classifier(e).await));
        }
        let target_clf = loaded
            .iter()
            .find(|(e, _)| e.id == entry.id)
            .and_then(|(_, c)| c.as_ref().ok().cloned())
            .ok_or_else(|| {
                loaded
                    .iter()
                    .find(|(e, _)| e.id == entry.id)
                    .and_then(|(_, c)| c.as_ref().err().cloned())
                    .unwrap_or_else(|| format!("model {} could not be loaded", entry.id))
            })?;
        let models: Vec<(&ModelEntry, Result<&Classifier, String>)> = loaded
            .iter()
            .map(|(e, c)| (e, c.as_ref().map(|c| c.as_ref()).map_err(Clone::clone)))
            .collect();
        let target = Loaded {
            entry,
            clf: &target_clf,
        };
        let pack_ref = PackRef {
            id: &pack.id,
            title: &pack.title,
        };
        match (&flow, &payload) {
            (Some((index, f)), _) => explain::explain(
                &req,
                pack_ref,
                &models,
                &target,
                &Source::Flow {
                    index: *index,
                    flow: f,
                },
                req.method,
                req.edits.as_deref().unwrap_or(&[]),
                &self.device,
            ),
            (None, Some(p)) => {
                let method = req.method.or(p.view.method);
                let edits = req.edits.clone().unwrap_or_else(|| p.view.edits.clone());
                let req = ExplainRequest {
                    selected_packet: req.selected_packet.or(p.view.selected_packet),
                    ..req.clone()
                };
                explain::explain(
                    &req,
                    pack_ref,
                    &models,
                    &target,
                    &Source::Shared(p),
                    method,
                    &edits,
                    &self.device,
                )
            }
            (None, None) => Err("nothing to explain".into()),
        }
    }

    /// Run an [`AnalysisRequest`], posting as it goes.
    pub(super) async fn analyse(&self, req: AnalysisRequest) {
        let id = req.req;
        let error = self.analyse_inner(&req).await.err();
        if self.analysis.get() == id {
            self.post(&FromWorker::Analysis(AnalysisMsg::Done { req: id, error }));
        }
    }

    async fn analyse_inner(&self, req: &AnalysisRequest) -> Result<(), String> {
        let id = req.req;
        let flows = self
            .job_flows(req.job)
            .ok_or("the flows of this capture are no longer in memory")?;
        let models = self.run_models.borrow().clone();
        if models.is_empty() {
            return Err("no model has run on this capture".into());
        }
        let cap = match req.kind {
            AnalysisKind::FieldTotals => FIELD_TOTALS_MAX_FLOWS,
            AnalysisKind::Audit => AUDIT_MAX_FLOWS,
        };
        let used: Vec<&Flow> = flows.iter().take(cap).collect();
        let deep =
            |e: &ModelEntry| !matches!(e.architecture, Architecture::C45 | Architecture::Knn);
        let steps = match req.kind {
            AnalysisKind::FieldTotals => models.iter().filter(|e| deep(e)).count(),
            AnalysisKind::Audit => models.len() * AUDIT_GROUPS.len(),
        };
        self.post(&FromWorker::Analysis(AnalysisMsg::Started {
            req: id,
            kind: req.kind,
            flows: used.len() as u32,
            of: flows.len() as u32,
            steps: steps as u32,
        }));
        let stale = || self.analysis.get() != id;
        let mut last_yield = now_ms();
        for entry in &models {
            if req.kind == AnalysisKind::FieldTotals && !deep(entry) {
                continue;
            }
            let clf = match self.classifier(entry).await {
                Ok(c) => c,
                Err(error) => {
                    self.post(&FromWorker::Analysis(AnalysisMsg::ModelFailed {
                        req: id,
                        model: entry.id.clone(),
                        error,
                    }));
                    continue;
                }
            };
            if stale() {
                return Ok(());
            }
            let repr = &entry.representation;
            match req.kind {
                AnalysisKind::FieldTotals => {
                    let Classifier::Deep(model) = clf.as_ref() else {
                        continue;
                    };
                    let method = explain::default_method(entry.architecture)
                        .unwrap_or(Method::GradientInput);
                    let mut totals = FieldTotals::new();
                    for batch in used.chunks(TOTALS_BATCH) {
                        add_field_totals(&mut totals, model, repr, batch, method)
                            .map_err(|e| format!("{}: {e}", entry.id))?;
                        if now_ms() - last_yield >= YIELD_EVERY_MS {
                            yield_to_event_loop(&self.scope).await;
                            last_yield = now_ms();
                            if stale() {
                                return Ok(());
                            }
                        }
                    }
                    self.post(&FromWorker::Analysis(AnalysisMsg::FieldTotals {
                        req: id,
                        row: FieldTotalsRow {
                            model: entry.id.clone(),
                            method,
                            flows: used.len() as u32,
                            summary: totals.summary(),
                        },
                    }));
                }
                AnalysisKind::Audit => {
                    let enc = EncodedFlows::from_flows(repr, &used);
                    let base = predict_classes(&clf, repr, &enc, &self.device)
                        .map_err(|e| format!("{}: {e}", entry.id))?;
                    for group in AUDIT_GROUPS {
                        yield_to_event_loop(&self.scope).await;
                        if stale() {
                            return Ok(());
                        }
                        let row = sensitivity_row(
                            &clf,
                            repr,
                            &enc,
                            &base,
                            group,
                            Mode::Randomise,
                            AUDIT_SEED,
                            &self.device,
                        )
                        .map_err(|e| format!("{}: {e}", entry.id))?;
                        let class = |c: usize| u16::try_from(c).unwrap_or(u16::MAX);
                        let changes = row
                            .flipped
                            .iter()
                            .zip(&row.flipped_to)
                            .map(|(&i, &to)| (class(base.get(i).copied().unwrap_or(0)), class(to)))
                            .collect();
                        let flipped = row.flipped.iter().map(|&i| i as u32).collect();
                        let bytes_changed = row.bytes_changed;
                        self.post(&FromWorker::Analysis(AnalysisMsg::Audit {
                            req: id,
                            row: AuditRow {
                                model: entry.id.clone(),
                                group,
                                flows: used.len() as u32,
                                flipped,
                                bytes_changed: bytes_changed as u64,
                                changes,
                            },
                        }));
                        last_yield = now_ms();
                    }
                }
            }
        }
        Ok(())
    }
}
