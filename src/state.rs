//! The page's state: one [`Reducible`] value changed only through [`Action`]s,
//! provided to every component through a context ([`AppContext`]).

use std::cmp::Ordering;
use std::net::IpAddr;
use std::rc::Rc;

use flowlens_core::Summary;
use yew::prelude::*;

use crate::protocol::{FlowRow, FromWorker};

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

/// The flows of the last finished job, shared without copying. Two values
/// are equal when they are the same allocation (cheap memo keys).
#[derive(Debug, Clone, Default)]
pub struct SharedFlows(pub Rc<Vec<FlowRow>>);

impl PartialEq for SharedFlows {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
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
                    ..AppState::default()
                };
            }
            Action::Worker(FromWorker::Ready) => return self,
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
                next.flows = SharedFlows(Rc::new(flows));
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
}
