//! The page's state: one [`Reducible`] value changed only through [`Action`]s,
//! provided to every component through a context ([`AppContext`]).

use std::cmp::Ordering;
use std::net::IpAddr;
use std::rc::Rc;

use flowlens_core::Summary;
use yew::prelude::*;

use crate::protocol::{FlowDetail, FlowRow, FromWorker, ModelInfo, PackInfo};

/// What the components read: the state plus its dispatcher.
pub type AppContext = UseReducerHandle<AppState>;

/// Where reading the current file stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// No file yet.
    #[default]
    Idle,
    /// The worker is reading the file.
    Parsing,
    /// Reading ended: completely, with an error, or cancelled.
    Done,
}

impl Phase {
    /// The text of the `parse-status` element (a stable test hook).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Parsing => "parsing",
            Phase::Done => "done",
        }
    }
}

/// A value shared without copying. Two values are equal when they are the
/// same allocation (cheap memo keys for big tables).
#[derive(Debug, Default)]
pub struct Shared<T>(pub Rc<T>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<T> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// The flows of the last finished job.
pub type SharedFlows = Shared<Vec<FlowRow>>;

/// No prediction (yet) for a flow.
pub const NO_LABEL: u16 = u16::MAX;

/// One model's answers for every flow of the current run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelResults {
    /// Per flow: index into the model's classes, or [`NO_LABEL`].
    pub labels: Vec<u16>,
    /// Per flow: probability of the predicted class.
    pub confidences: Vec<f32>,
    /// Flows predicted so far.
    pub done: u32,
    /// Set when the model ran on every flow.
    pub timing: Option<ModelTiming>,
    /// Why the model could not be used.
    pub error: Option<String>,
}

impl ModelResults {
    fn new(flows: usize) -> Self {
        ModelResults {
            labels: vec![NO_LABEL; flows],
            confidences: vec![0.0; flows],
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelTiming {
    pub flows: u32,
    pub compute_ms: f64,
    pub load_ms: f64,
}

/// Where running the models stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InferenceStatus {
    /// Nothing to run (no file, no models).
    #[default]
    Idle,
    /// Asked the worker; models are loading or running.
    Running,
    /// Every model ran on every flow.
    Done,
    /// The run ended, but some model could not be used.
    Failed,
}

impl InferenceStatus {
    /// The text of the `inference-status` element (a stable test hook).
    pub fn as_str(self) -> &'static str {
        match self {
            InferenceStatus::Idle => "idle",
            InferenceStatus::Running => "running",
            InferenceStatus::Done => "done",
            InferenceStatus::Failed => "failed",
        }
    }
}

/// The models of one pack run on the current job's flows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Inference {
    /// Id of the run; messages about other runs are stale.
    pub run: u32,
    /// The pack of this run.
    pub pack: Option<String>,
    pub status: InferenceStatus,
    pub models: Shared<Vec<ModelInfo>>,
    /// Per model, in the order of `models`.
    pub results: Vec<Shared<ModelResults>>,
    /// Problems of the run as a whole.
    pub error: Option<String>,
}

impl Inference {
    /// Labels of flow `i` by each model (`None`: not predicted yet).
    pub fn labels_of(&self, i: usize) -> impl Iterator<Item = Option<&str>> + '_ {
        self.models.0.iter().zip(&self.results).map(move |(m, r)| {
            r.0.labels
                .get(i)
                .filter(|&&l| l != NO_LABEL)
                .and_then(|&l| m.classes.get(l as usize))
                .map(String::as_str)
        })
    }

    /// The label most models give flow `i`, and how many give it out of how
    /// many have answered. Ties go to the model listed first.
    pub fn vote(&self, i: usize) -> Option<(&str, usize, usize)> {
        // At most a handful of models: count pairs, allocate nothing (this
        // runs for every flow whenever the chart is redrawn).
        let mut best: Option<(&str, usize)> = None;
        let mut answered = 0;
        for l in self.labels_of(i).flatten() {
            answered += 1;
            let n = self.labels_of(i).flatten().filter(|&o| o == l).count();
            if best.is_none_or(|(_, b)| n > b) {
                best = Some((l, n));
            }
        }
        best.map(|(l, n)| (l, n, answered))
    }

    /// The label `by` gives flow `i`.
    pub fn label_by(&self, by: ByModel, i: usize) -> Option<&str> {
        match by {
            ByModel::Majority => self.vote(i).map(|(l, _, _)| l),
            ByModel::Model(m) => self.labels_of(i).nth(m).flatten(),
        }
    }

    /// Errors of the run and of its models, as sentences.
    pub fn errors(&self) -> Vec<String> {
        self.error
            .iter()
            .cloned()
            .chain(self.results.iter().filter_map(|r| r.0.error.clone()))
            .collect()
    }
}

/// Whose prediction the class filter and the chart use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ByModel {
    /// The label most models agree on.
    #[default]
    Majority,
    /// Model number `n` of the run.
    Model(usize),
}

/// Which flows the table shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    /// Only flows `by` labels so.
    pub class: Option<String>,
    pub by: ByModel,
    /// Only this protocol (`tcp`, `udp`, ...).
    pub proto: Option<String>,
    /// Only flows with this port on either side.
    pub port: Option<u16>,
}

impl Filter {
    pub fn is_active(&self) -> bool {
        self.class.is_some() || self.proto.is_some() || self.port.is_some()
    }
}

/// The published models as the worker found them.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Models {
    /// The worker has not said yet.
    #[default]
    Loading,
    /// No manifest is published (not an error: flows are still listed).
    Missing(String),
    /// The manifest is there but cannot be used.
    Broken(String),
    Ready(Shared<Vec<PackInfo>>),
}

/// A column of the flow table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// Order of the flow's first packet in the capture.
    Index,
    Proto,
    Src,
    Sport,
    Dst,
    Dport,
    Packets,
    Bytes,
    Duration,
}

impl Column {
    pub const ALL: [Column; 9] = [
        Column::Index,
        Column::Proto,
        Column::Src,
        Column::Sport,
        Column::Dst,
        Column::Dport,
        Column::Packets,
        Column::Bytes,
        Column::Duration,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Column::Index => "#",
            Column::Proto => "Protocol",
            Column::Src => "Source",
            Column::Sport => "Src port",
            Column::Dst => "Destination",
            Column::Dport => "Dst port",
            Column::Packets => "Packets",
            Column::Bytes => "Bytes",
            Column::Duration => "Duration",
        }
    }

    /// Counts read best largest first; names and addresses A to Z.
    fn default_descending(self) -> bool {
        matches!(self, Column::Packets | Column::Bytes | Column::Duration)
    }

    pub fn is_numeric(self) -> bool {
        !matches!(self, Column::Proto | Column::Src | Column::Dst)
    }
}

/// How the flow table is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub column: Column,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort {
            column: Column::Index,
            descending: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Progress {
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub flows: u64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppState {
    /// Id of the current job; messages about other jobs are stale.
    pub job: u32,
    pub file_name: Option<String>,
    pub phase: Phase,
    pub progress: Progress,
    /// Flows of the last finished job.
    pub flows: SharedFlows,
    pub summary: Option<Summary>,
    /// Why reading stopped early, or why it could not start.
    pub error: Option<String>,
    /// The user asked to stop (the worker has not answered yet while
    /// `phase` is still `Parsing`).
    pub cancel_requested: bool,
    /// Reading was stopped by the user.
    pub cancelled: bool,
    pub sort: Sort,
    /// The worker's wasm memory after the last job (its peak).
    pub worker_memory_bytes: Option<u64>,
    pub models: Models,
    /// The pack the user picked (the first one until then).
    pub selected_pack: Option<String>,
    pub inference: Inference,
    pub filter: Filter,
    /// The flow shown in the detail pane (index in capture order).
    pub selected_flow: Option<u32>,
    /// The worker's answer about the selected flow.
    pub detail: Option<Shared<FlowDetail>>,
    /// Explanations, what-if, share links, field weights, audit.
    pub explain: crate::explain_state::ExplainState,
}

impl AppState {
    /// The pack to run: the user's pick, else the first published.
    pub fn pack(&self) -> Option<&PackInfo> {
        let Models::Ready(packs) = &self.models else {
            return None;
        };
        match &self.selected_pack {
            Some(id) => packs.0.iter().find(|p| &p.id == id),
            None => packs.0.first(),
        }
    }

    /// Errors to show about the models.
    pub fn model_errors(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Models::Broken(e) = &self.models {
            out.push(e.clone());
        }
        out.extend(self.inference.errors());
        out
    }
}

pub enum Action {
    /// A file was handed to the worker as `job`.
    Start {
        job: u32,
        file_name: String,
        bytes_total: u64,
    },
    /// A message from the worker.
    Worker(FromWorker),
    /// The user pressed cancel.
    CancelRequested,
    /// The worker could not be started or crashed.
    WorkerFailed(String),
    /// Sort by this column; the same column again flips the direction.
    SortBy(Column),
    /// The page asked the worker to run `pack` as `run`.
    Classify {
        run: u32,
        pack: String,
    },
    /// The user picked another model pack.
    SelectPack(String),
    SetFilter(Filter),
    /// Show this flow in the detail pane (`None` closes it).
    SelectFlow(Option<u32>),
    /// The explanation views ([`crate::explain_state`]).
    Explain(crate::explain_state::ExplainAction),
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::Start {
                job,
                file_name,
                bytes_total,
            } => {
                next = AppState {
                    job,
                    file_name: Some(file_name),
                    phase: Phase::Parsing,
                    progress: Progress {
                        bytes_done: 0,
                        bytes_total,
                        flows: 0,
                    },
                    sort: self.sort,
                    models: self.models.clone(),
                    selected_pack: self.selected_pack.clone(),
                    inference: Inference {
                        run: self.inference.run,
                        ..Inference::default()
                    },
                    filter: Filter {
                        by: self.filter.by,
                        ..Filter::default()
                    },
                    ..AppState::default()
                };
            }
            // The bridge puts `FlowRows` back into their job's `Done`.
            Action::Worker(FromWorker::Ready | FromWorker::FlowRows { .. }) => return self,
            Action::Worker(FromWorker::Models {
                packs,
                missing,
                error,
            }) => {
                next.models = match (error, missing) {
                    (Some(e), _) => Models::Broken(e),
                    (None, Some(m)) => Models::Missing(m),
                    (None, None) if packs.is_empty() => {
                        Models::Missing("the model list holds no model pack".into())
                    }
                    (None, None) => Models::Ready(Shared(Rc::new(packs))),
                };
            }
            Action::Worker(
                msg @ (FromWorker::InferenceStarted { .. }
                | FromWorker::Predictions { .. }
                | FromWorker::ModelDone { .. }
                | FromWorker::ModelFailed { .. }
                | FromWorker::InferenceDone { .. }),
            ) => {
                if !next.on_inference(msg) {
                    return self;
                }
            }
            Action::Worker(FromWorker::Explained(reply)) => {
                use crate::explain_state::ExplainAction;
                if !next.explain.apply(ExplainAction::Reply(reply)) {
                    return self;
                }
            }
            Action::Worker(FromWorker::Analysis(msg)) => {
                use crate::explain_state::ExplainAction;
                if !next.explain.apply(ExplainAction::Analysis(msg)) {
                    return self;
                }
            }
            Action::Explain(a) => {
                if !next.explain.apply(a) {
                    return self;
                }
            }
            Action::Worker(FromWorker::Detail(detail)) => {
                if detail.job != self.job || Some(detail.flow) != self.selected_flow {
                    return self;
                }
                next.detail = Some(Shared(Rc::new(detail)));
            }
            Action::Worker(FromWorker::Progress {
                job,
                bytes_done,
                bytes_total,
                flows,
            }) => {
                if job != self.job || self.phase != Phase::Parsing {
                    return self;
                }
                next.progress = Progress {
                    bytes_done,
                    bytes_total,
                    flows,
                };
            }
            Action::Worker(FromWorker::Done {
                job,
                bytes_done,
                bytes_total,
                flows,
                summary,
                error,
                cancelled,
                worker_memory_bytes,
            }) => {
                if job != self.job || self.phase != Phase::Parsing {
                    return self;
                }
                next.worker_memory_bytes = Some(worker_memory_bytes);
                next.progress = Progress {
                    bytes_done,
                    bytes_total,
                    flows: flows.len() as u64,
                };
                next.phase = Phase::Done;
                next.flows = Shared(Rc::new(flows));
                next.summary = Some(summary);
                next.error = error;
                next.cancelled = cancelled;
                next.cancel_requested = false;
            }
            Action::CancelRequested => {
                if self.phase != Phase::Parsing {
                    return self;
                }
                next.cancel_requested = true;
            }
            Action::WorkerFailed(message) => {
                next.error = Some(message);
                if next.phase == Phase::Parsing {
                    next.phase = Phase::Done;
                }
            }
            Action::Classify { run, pack } => {
                next.inference = Inference {
                    run,
                    pack: Some(pack),
                    status: InferenceStatus::Running,
                    ..Inference::default()
                };
                next.detail = None;
                next.explain.run_changed();
                if !matches!(self.filter.by, ByModel::Majority) {
                    next.filter.by = ByModel::Majority;
                }
                next.filter.class = None;
            }
            Action::SelectPack(id) => {
                next.selected_pack = Some(id);
            }
            Action::SetFilter(filter) => next.filter = filter,
            Action::SelectFlow(flow) => {
                if flow == self.selected_flow {
                    return self;
                }
                next.selected_flow = flow;
                next.detail = None;
                next.explain.flow_changed();
            }
            Action::SortBy(column) => {
                next.sort = if self.sort.column == column {
                    Sort {
                        column,
                        descending: !self.sort.descending,
                    }
                } else {
                    Sort {
                        column,
                        descending: column.default_descending(),
                    }
                };
            }
        }
        Rc::new(next)
    }
}

impl AppState {
    /// Apply a message about the current run; false if it is stale.
    fn on_inference(&mut self, msg: FromWorker) -> bool {
        let (my_job, my_run) = (self.job, self.inference.run);
        let current = move |job: u32, run: u32| job == my_job && run == my_run;
        match msg {
            FromWorker::InferenceStarted {
                job,
                run,
                models,
                flows,
                ..
            } => {
                if !current(job, run) {
                    return false;
                }
                let inf = &mut self.inference;
                inf.results = models
                    .iter()
                    .map(|_| Shared(Rc::new(ModelResults::new(flows as usize))))
                    .collect();
                inf.models = Shared(Rc::new(models));
            }
            FromWorker::Predictions {
                job,
                run,
                model,
                start,
                labels,
                confidences,
            } => {
                if !current(job, run) {
                    return false;
                }
                let Some(r) = self.inference.results.get_mut(model as usize) else {
                    return false;
                };
                let r = Rc::make_mut(&mut r.0);
                let start = start as usize;
                for (k, (l, c)) in labels.iter().zip(&confidences).enumerate() {
                    if let (Some(dl), Some(dc)) = (
                        r.labels.get_mut(start + k),
                        r.confidences.get_mut(start + k),
                    ) {
                        *dl = *l;
                        *dc = *c;
                    }
                }
                r.done = r.done.saturating_add(labels.len() as u32);
            }
            FromWorker::ModelDone {
                job,
                run,
                model,
                flows,
                compute_ms,
                load_ms,
            } => {
                if !current(job, run) {
                    return false;
                }
                let Some(r) = self.inference.results.get_mut(model as usize) else {
                    return false;
                };
                Rc::make_mut(&mut r.0).timing = Some(ModelTiming {
                    flows,
                    compute_ms,
                    load_ms,
                });
            }
            FromWorker::ModelFailed {
                job,
                run,
                model,
                error,
            } => {
                if !current(job, run) {
                    return false;
                }
                match self.inference.results.get_mut(model as usize) {
                    Some(r) => Rc::make_mut(&mut r.0).error = Some(error),
                    None => self.inference.error = Some(error),
                }
            }
            FromWorker::InferenceDone { job, run } => {
                if !current(job, run) {
                    return false;
                }
                let inf = &mut self.inference;
                let ok = inf.error.is_none()
                    && !inf.results.is_empty()
                    && inf
                        .results
                        .iter()
                        .all(|r| r.0.error.is_none() && r.0.timing.is_some());
                inf.status = if ok {
                    InferenceStatus::Done
                } else {
                    InferenceStatus::Failed
                };
            }
            _ => return false,
        }
        true
    }
}

/// Row indices of `flows` in the order `sort` asks for. Ties keep capture
/// order, so the result is deterministic.
pub fn sorted_order(flows: &[FlowRow], sort: Sort) -> Vec<u32> {
    let mut order: Vec<u32> = (0..flows.len() as u32).collect();
    if sort.column == Column::Index {
        if sort.descending {
            order.reverse();
        }
        return order;
    }
    // Addresses compare as addresses (10.0.0.9 < 10.0.0.10), parsed once.
    let addr = |s: &str| s.parse::<IpAddr>().ok();
    let keys: Vec<(Option<IpAddr>, Option<IpAddr>)> = match sort.column {
        Column::Src | Column::Dst => flows.iter().map(|f| (addr(&f.src), addr(&f.dst))).collect(),
        _ => Vec::new(),
    };
    let cmp = |a: &u32, b: &u32| -> Ordering {
        let (fa, fb) = (&flows[*a as usize], &flows[*b as usize]);
        let by_column = match sort.column {
            Column::Index => Ordering::Equal,
            Column::Proto => fa.proto.cmp(&fb.proto),
            Column::Src => keys[*a as usize]
                .0
                .cmp(&keys[*b as usize].0)
                .then_with(|| fa.src.cmp(&fb.src)),
            Column::Sport => fa.sport.cmp(&fb.sport),
            Column::Dst => keys[*a as usize]
                .1
                .cmp(&keys[*b as usize].1)
                .then_with(|| fa.dst.cmp(&fb.dst)),
            Column::Dport => fa.dport.cmp(&fb.dport),
            Column::Packets => fa.packets.cmp(&fb.packets),
            Column::Bytes => fa.bytes.cmp(&fb.bytes),
            Column::Duration => fa.duration_ns.cmp(&fb.duration_ns),
        };
        let by_column = if sort.descending {
            by_column.reverse()
        } else {
            by_column
        };
        by_column.then(a.cmp(b))
    };
    order.sort_by(cmp);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(src: &str, sport: u16, packets: u64) -> FlowRow {
        FlowRow {
            proto: "udp".into(),
            src: src.into(),
            sport,
            dst: "192.0.2.1".into(),
            dport: 53,
            packets,
            bytes: packets * 100,
            first_ts_ns: 0,
            duration_ns: 0,
        }
    }

    fn done(job: u32, flows: Vec<FlowRow>, error: Option<&str>) -> Action {
        Action::Worker(FromWorker::Done {
            job,
            bytes_done: 10,
            bytes_total: 10,
            flows,
            summary: Summary::default(),
            error: error.map(str::to_string),
            cancelled: false,
            worker_memory_bytes: 1 << 20,
        })
    }

    #[test]
    fn addresses_sort_numerically_and_ties_keep_capture_order() {
        let flows = vec![
            row("10.0.0.10", 1, 5),
            row("10.0.0.9", 2, 5),
            row("2001:db8::1", 3, 1),
            row("10.0.0.9", 4, 7),
        ];
        let by_src = Sort {
            column: Column::Src,
            descending: false,
        };
        assert_eq!(sorted_order(&flows, by_src), vec![1, 3, 0, 2]);
        let by_packets = Sort {
            column: Column::Packets,
            descending: true,
        };
        assert_eq!(sorted_order(&flows, by_packets), vec![3, 0, 1, 2]);
        let back = Sort {
            column: Column::Index,
            descending: true,
        };
        assert_eq!(sorted_order(&flows, back), vec![3, 2, 1, 0]);
    }

    #[test]
    fn sorting_the_same_column_twice_flips_it() {
        let s = Rc::new(AppState::default());
        let s = s.reduce(Action::SortBy(Column::Bytes));
        assert_eq!(
            s.sort,
            Sort {
                column: Column::Bytes,
                descending: true
            }
        );
        let s = s.reduce(Action::SortBy(Column::Bytes));
        assert!(!s.sort.descending);
    }

    #[test]
    fn stale_jobs_are_ignored_and_errors_keep_flows() {
        let s = Rc::new(AppState::default());
        let s = s.reduce(Action::Start {
            job: 2,
            file_name: "a.pcap".into(),
            bytes_total: 10,
        });
        assert_eq!(s.phase, Phase::Parsing);
        let s = s.reduce(done(1, vec![row("10.0.0.1", 1, 1)], None));
        assert_eq!(s.phase, Phase::Parsing, "job 1 is stale");
        let s = s.reduce(done(2, vec![row("10.0.0.1", 1, 1)], Some("truncated")));
        assert_eq!(s.phase, Phase::Done);
        assert_eq!(s.phase.as_str(), "done");
        assert_eq!(s.flows.0.len(), 1);
        assert_eq!(s.error.as_deref(), Some("truncated"));
    }

    #[test]
    fn a_new_file_resets_results_but_keeps_the_sort() {
        let s = Rc::new(AppState::default()).reduce(Action::SortBy(Column::Dport));
        let s = s.reduce(Action::Start {
            job: 1,
            file_name: "a.pcap".into(),
            bytes_total: 10,
        });
        let s = s.reduce(done(1, vec![row("10.0.0.1", 1, 1)], Some("bad")));
        let s = s.reduce(Action::Start {
            job: 2,
            file_name: "b.pcap".into(),
            bytes_total: 20,
        });
        assert!(s.error.is_none());
        assert!(s.flows.0.is_empty());
        assert_eq!(s.sort.column, Column::Dport);
    }

    fn model(id: &str) -> ModelInfo {
        ModelInfo {
            id: id.into(),
            architecture: "cnn".into(),
            short: "CNN".into(),
            classes: vec!["a".into(), "b".into()],
            accuracy: 1.0,
            macro_f1: 1.0,
            packets: 8,
            bytes_per_packet: 128,
            view: "all".into(),
        }
    }

    /// A state with `flows` flows read and run 7 of `models` started.
    fn running(models: &[&str], flows: usize) -> Rc<AppState> {
        let s = Rc::new(AppState::default()).reduce(Action::Start {
            job: 1,
            file_name: "a.pcap".into(),
            bytes_total: 10,
        });
        let s = s.reduce(done(
            1,
            (0..flows).map(|i| row("10.0.0.1", i as u16, 1)).collect(),
            None,
        ));
        let s = s.reduce(Action::Classify {
            run: 7,
            pack: "p".into(),
        });
        s.reduce(Action::Worker(FromWorker::InferenceStarted {
            job: 1,
            run: 7,
            pack: "p".into(),
            models: models.iter().map(|m| model(m)).collect(),
            flows: flows as u32,
        }))
    }

    fn predictions(model: u32, start: u32, labels: &[u16], run: u32) -> Action {
        Action::Worker(FromWorker::Predictions {
            job: 1,
            run,
            model,
            start,
            labels: labels.to_vec(),
            confidences: vec![0.9; labels.len()],
        })
    }

    #[test]
    fn predictions_stream_in_and_votes_count_agreement() {
        let s = running(&["m0", "m1", "m2"], 3);
        assert_eq!(s.inference.status, InferenceStatus::Running);
        let s = s.reduce(predictions(0, 0, &[0, 1], 7));
        assert_eq!(s.inference.vote(0), Some(("a", 1, 1)));
        assert_eq!(s.inference.vote(2), None, "flow 2 not predicted yet");
        let s = s.reduce(predictions(0, 2, &[1], 7));
        let s = s.reduce(predictions(1, 0, &[0, 0, 1], 7));
        let s = s.reduce(predictions(2, 0, &[1, 0, 1], 7));
        assert_eq!(s.inference.vote(0), Some(("a", 2, 3)));
        assert_eq!(s.inference.vote(1), Some(("a", 2, 3)));
        assert_eq!(s.inference.vote(2), Some(("b", 3, 3)));
        assert_eq!(s.inference.label_by(ByModel::Model(2), 0), Some("b"));
        // A stale run changes nothing.
        let before = s.clone();
        let s = s.reduce(predictions(0, 0, &[1, 1, 1], 6));
        assert!(Rc::ptr_eq(&before, &s));
    }

    #[test]
    fn the_run_is_done_only_when_every_model_ran_and_failed_otherwise() {
        let model_done = |s: Rc<AppState>, m: u32| {
            s.reduce(Action::Worker(FromWorker::ModelDone {
                job: 1,
                run: 7,
                model: m,
                flows: 2,
                compute_ms: 1.0,
                load_ms: 1.0,
            }))
        };
        let end = Action::Worker(FromWorker::InferenceDone { job: 1, run: 7 });
        let s = running(&["m0", "m1"], 2);
        let s = model_done(model_done(s, 0), 1).reduce(end);
        assert_eq!(s.inference.status, InferenceStatus::Done);
        assert_eq!(s.inference.status.as_str(), "done");

        let s = running(&["m0", "m1"], 2);
        let s = model_done(s, 0).reduce(Action::Worker(FromWorker::ModelFailed {
            job: 1,
            run: 7,
            model: 1,
            error: "model m1: wrong hash".into(),
        }));
        let s = s.reduce(Action::Worker(FromWorker::InferenceDone { job: 1, run: 7 }));
        assert_eq!(s.inference.status, InferenceStatus::Failed);
        assert_eq!(s.model_errors(), vec!["model m1: wrong hash".to_string()]);
        assert_eq!(s.flows.0.len(), 2, "flows are kept");
    }
}
