//! One function component per file. They read the state from the
//! [`crate::state::AppContext`] and change it only by dispatching actions
//! (or, for commands to the worker, through callbacks from [`crate::app`]).

mod audit_panel;
mod capture_fields;
mod class_chart;
mod drop_zone;
mod error_banner;
mod filters;
mod flow_detail;
mod flow_explain;
mod flow_table;
mod heatmap;
mod models_panel;
mod progress;
mod reasons;
mod share_export;
mod summary;
mod what_if;

pub use audit_panel::AuditPanel;
pub use capture_fields::CaptureFields;
pub use class_chart::ClassChart;
pub use drop_zone::DropZone;
pub use error_banner::ErrorBanner;
pub use filters::FlowFilters;
pub use flow_detail::FlowDetailPane;
pub use flow_explain::FlowExplain;
pub use flow_table::FlowTable;
pub use models_panel::ModelsPanel;
pub use progress::ProgressPanel;
pub use summary::SummaryPanel;

use yew::prelude::*;

use crate::state::AppContext;

/// The app state; every component sits under the provider in `App`.
#[hook]
fn use_app() -> AppContext {
    // `App` always provides the context; a missing provider is a programming
    // error in this crate, not an input-dependent condition.
    use_context::<AppContext>().expect("components are rendered inside App's ContextProvider")
}
