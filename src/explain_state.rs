//! The explanation views' part of the page state (a field of
//! [`crate::state::AppState`], changed through [`ExplainAction`]s), and
//! the link components use to send commands to the worker.

use std::rc::Rc;

use flowlens_core::explain::{ByteEdit, Method};
use yew::Callback;

use crate::explain::{
    AnalysisKind, AnalysisMsg, AuditRow, ExplainReply, ExplainView, FieldTotalsRow,
};
use crate::protocol::ToWorker;
use crate::state::Shared;

/// A fresh id for a capture-wide analysis (field totals and the audit
/// share the worker's one analysis slot, so they share the ids too).
pub fn next_analysis_req() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Sends a command to the worker (provided by `App` as a context).
#[derive(Clone, PartialEq)]
pub struct WorkerLink(pub Callback<ToWorker>);

/// A capture-wide analysis (field weights or audit) and its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisState<T> {
    /// The newest request; messages about others are stale.
    pub req: u32,
    pub running: bool,
    /// Flows read, of how many in the capture.
    pub flows: u32,
    pub of: u32,
    /// Steps announced, and rows received so far.
    pub steps: u32,
    pub rows: Vec<T>,
    /// Models that could not take part: (model, why).
    pub failed: Vec<(String, String)>,
    pub error: Option<String>,
}

impl<T> Default for AnalysisState<T> {
    fn default() -> Self {
        AnalysisState {
            req: 0,
            running: false,
            flows: 0,
            of: 0,
            steps: 0,
            rows: Vec::new(),
            failed: Vec::new(),
            error: None,
        }
    }
}

impl<T> AnalysisState<T> {
    fn start(req: u32) -> Self {
        AnalysisState {
            req,
            running: true,
            ..Default::default()
        }
    }

    pub fn done(&self) -> bool {
        self.req != 0 && !self.running
    }
}

/// What the explanation views show and ask.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExplainState {
    /// The share link's fragment the page shows (instead of a capture flow).
    pub shared: Option<String>,
    /// The model explained (manifest id); `None`: the run's first, or the link's.
    pub model: Option<String>,
    /// `None`: the model's default.
    pub method: Option<Method>,
    /// What-if edits of the shown input (`None`: the link's, or none).
    pub edits: Option<Vec<ByteEdit>>,
    pub selected_packet: Option<u16>,
    /// Include payload bytes in the share link.
    pub share_payload: bool,
    /// The newest request sent.
    pub req: u32,
    pub view: Option<Shared<ExplainView>>,
    pub error: Option<String>,
    pub totals: AnalysisState<FieldTotalsRow>,
    pub audit: AnalysisState<AuditRow>,
}

pub enum ExplainAction {
    /// Show the view a share link carries.
    OpenShared(String),
    CloseShared,
    Model(Option<String>),
    Method(Option<Method>),
    /// Replace the what-if edits.
    Edits(Option<Vec<ByteEdit>>),
    SelectPacket(Option<u16>),
    SharePayload(bool),
    /// An explain request went out.
    Requested(u32),
    Reply(ExplainReply),
    AnalysisRequested {
        req: u32,
        kind: AnalysisKind,
    },
    Analysis(AnalysisMsg),
}

impl ExplainState {
    /// Apply `action`; false when nothing changed (stale replies).
    pub fn apply(&mut self, action: ExplainAction) -> bool {
        match action {
            ExplainAction::OpenShared(fragment) => {
                if self.shared.as_ref() == Some(&fragment) {
                    return false;
                }
                *self = ExplainState {
                    shared: Some(fragment),
                    req: self.req,
                    totals: std::mem::take(&mut self.totals),
                    audit: std::mem::take(&mut self.audit),
                    ..Default::default()
                };
            }
            ExplainAction::CloseShared => self.flow_changed(),
            ExplainAction::Model(m) => {
                self.model = m;
                // Methods differ between models; the edits stay.
                self.method = None;
            }
            ExplainAction::Method(m) => self.method = m,
            ExplainAction::Edits(e) => self.edits = e,
            ExplainAction::SelectPacket(p) => self.selected_packet = p,
            ExplainAction::SharePayload(b) => self.share_payload = b,
            ExplainAction::Requested(req) => self.req = req,
            ExplainAction::Reply(r) => {
                if r.req != self.req {
                    return false;
                }
                self.error = r.error;
                if let Some(v) = r.view {
                    self.view = Some(Shared(Rc::new(*v)));
                } else {
                    self.view = None;
                }
            }
            ExplainAction::AnalysisRequested { req, kind } => {
                // The worker runs one analysis at a time: a new one stops the other.
                let stopped = Some("stopped by the other analysis; run it again".to_string());
                match kind {
                    AnalysisKind::FieldTotals => {
                        if self.audit.running {
                            self.audit.running = false;
                            self.audit.error = stopped;
                        }
                        self.totals = AnalysisState::start(req);
                    }
                    AnalysisKind::Audit => {
                        if self.totals.running {
                            self.totals.running = false;
                            self.totals.error = stopped;
                        }
                        self.audit = AnalysisState::start(req);
                    }
                }
            }
            ExplainAction::Analysis(msg) => return self.on_analysis(msg),
        }
        true
    }

    /// Another flow is shown (or none): a shared view closes, edits and
    /// the packet selection go.
    pub fn flow_changed(&mut self) {
        self.shared = None;
        self.edits = None;
        self.selected_packet = None;
        self.view = None;
        self.error = None;
    }

    /// A new classification run: results about the old one go.
    pub fn run_changed(&mut self) {
        self.flow_changed();
        self.model = None;
        self.method = None;
        self.totals = AnalysisState::default();
        self.audit = AnalysisState::default();
    }

    fn on_analysis(&mut self, msg: AnalysisMsg) -> bool {
        fn with<T>(
            s: &mut AnalysisState<T>,
            req: u32,
            f: impl FnOnce(&mut AnalysisState<T>),
        ) -> bool {
            if s.req != req {
                return false;
            }
            f(s);
            true
        }
        match msg {
            AnalysisMsg::Started {
                req,
                kind,
                flows,
                of,
                steps,
            } => {
                fn set<T>(s: &mut AnalysisState<T>, flows: u32, of: u32, steps: u32) {
                    s.flows = flows;
                    s.of = of;
                    s.steps = steps;
                }
                match kind {
                    AnalysisKind::FieldTotals => {
                        with(&mut self.totals, req, |s| set(s, flows, of, steps))
                    }
                    AnalysisKind::Audit => with(&mut self.audit, req, |s| set(s, flows, of, steps)),
                }
            }
            AnalysisMsg::FieldTotals { req, row } => {
                with(&mut self.totals, req, |s| s.rows.push(row))
            }
            AnalysisMsg::Audit { req, row } => with(&mut self.audit, req, |s| s.rows.push(row)),
            AnalysisMsg::ModelFailed { req, model, error } => {
                if self.totals.req == req {
                    self.totals.failed.push((model, error));
                    true
                } else if self.audit.req == req {
                    self.audit.failed.push((model, error));
                    true
                } else {
                    false
                }
            }
            AnalysisMsg::Done { req, error } => {
                fn done<T>(s: &mut AnalysisState<T>, error: Option<String>) {
                    s.running = false;
                    s.error = error;
                }
                if self.totals.req == req {
                    with(&mut self.totals, req, |s| done(s, error))
                } else {
                    with(&mut self.audit, req, |s| done(s, error))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_replies_are_ignored_and_a_new_flow_drops_edits() {
        let mut s = ExplainState::default();
        s.apply(ExplainAction::Requested(3));
        let reply = |req| ExplainReply {
            req,
            view: None,
            error: Some(format!("r{req}")),
        };
        assert!(!s.apply(ExplainAction::Reply(reply(2))));
        assert!(s.apply(ExplainAction::Reply(reply(3))));
        assert_eq!(s.error.as_deref(), Some("r3"));
        s.apply(ExplainAction::Edits(Some(vec![ByteEdit {
            packet: 0,
            offset: 8,
            value: 1,
        }])));
        s.flow_changed();
        assert!(s.edits.is_none() && s.error.is_none());
    }

    #[test]
    fn analysis_rows_go_to_their_request() {
        let mut s = ExplainState::default();
        s.apply(ExplainAction::AnalysisRequested {
            req: 5,
            kind: AnalysisKind::Audit,
        });
        assert!(s.audit.running);
        assert!(!s.apply(ExplainAction::Analysis(AnalysisMsg::Done {
            req: 4,
            error: None
        })));
        assert!(s.apply(ExplainAction::Analysis(AnalysisMsg::Done {
            req: 5,
            error: None
        })));
        assert!(s.audit.done());
        assert!(!s.totals.done());
    }
}
