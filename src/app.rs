//! The page: owns the state and the worker, lays out the components.

use web_sys::File;
use yew::prelude::*;

use crate::bridge::{describe, WorkerBridge};
use crate::components::{
    AuditPanel, CaptureFields, ClassChart, DropZone, ErrorBanner, FlowDetailPane, FlowExplain,
    FlowFilters, FlowTable, ModelsPanel, ProgressPanel, SummaryPanel,
};
use crate::explain_state::{ExplainAction, WorkerLink};
use crate::protocol::{self, ToWorker};
use crate::state::{Action, AppContext, AppState, Phase};

#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(AppState::default);
    let bridge = use_mut_ref(|| None::<WorkerBridge>);
    let last_job = use_mut_ref(|| 0u32);

    {
        let bridge = bridge.clone();
        let dispatcher = state.dispatcher();
        use_effect_with((), move |_| {
            let on_message = {
                let d = dispatcher.clone();
                Callback::from(move |msg| d.dispatch(Action::Worker(msg)))
            };
            let on_failure = {
                let d = dispatcher.clone();
                Callback::from(move |e| d.dispatch(Action::WorkerFailed(e)))
            };
            match WorkerBridge::spawn(on_message, on_failure) {
                Ok(b) => *bridge.borrow_mut() = Some(b),
                Err(e) => dispatcher.dispatch(Action::WorkerFailed(format!(
                    "The background reader could not be started: {}",
                    describe(&e)
                ))),
            }
            move || drop(bridge.borrow_mut().take())
        });
    }

    let on_file = {
        let bridge = bridge.clone();
        let last_job = last_job.clone();
        let dispatcher = state.dispatcher();
        Callback::from(move |file: File| {
            let job = {
                let mut last = last_job.borrow_mut();
                *last = last.wrapping_add(1).max(1);
                *last
            };
            dispatcher.dispatch(Action::Start {
                job,
                file_name: file.name(),
                bytes_total: file.size().max(0.0) as u64,
            });
            let search = web_sys::window()
                .and_then(|w| w.location().search().ok())
                .unwrap_or_default();
            let command = ToWorker::Parse {
                job,
                slice_bytes: protocol::slice_bytes_from_query(&search),
                max_flows: protocol::max_flows_from_query(&search),
            };
            let sent = match bridge.borrow().as_ref() {
                Some(b) => b.send(&command, Some(&file)).map_err(|e| describe(&e)),
                None => Err("it is not running".to_string()),
            };
            if let Err(e) = sent {
                dispatcher.dispatch(Action::WorkerFailed(format!(
                    "The file could not be handed to the background reader: {e}"
                )));
            }
        })
    };

    let on_cancel = {
        let bridge = bridge.clone();
        let last_job = last_job.clone();
        let dispatcher = state.dispatcher();
        Callback::from(move |()| {
            let job = *last_job.borrow();
            dispatcher.dispatch(Action::CancelRequested);
            if let Some(b) = bridge.borrow().as_ref() {
                if let Err(e) = b.send(&ToWorker::Cancel { job }, None) {
                    dispatcher.dispatch(Action::WorkerFailed(format!(
                        "Cancelling failed: {}",
                        describe(&e)
                    )));
                }
            }
        })
    };

    // As soon as a file is dropped (the worker loads the weights while it
    // reads the file, then runs the models on its flows), and whenever the
    // user picks another pack: run the chosen pack.
    {
        let bridge = bridge.clone();
        let dispatcher = state.dispatcher();
        let job = state.job;
        let ready = state.phase != Phase::Idle && job > 0;
        let pack = state.pack().map(|p| p.id.clone());
        let next_run = state.inference.run.wrapping_add(1);
        use_effect_with((job, ready, pack), move |(job, ready, pack)| {
            if let (true, Some(pack)) = (*ready, pack.clone()) {
                let command = ToWorker::Classify {
                    job: *job,
                    run: next_run,
                    pack: pack.clone(),
                };
                dispatcher.dispatch(Action::Classify {
                    run: next_run,
                    pack,
                });
                send(&bridge, &command, &dispatcher);
            }
        });
    }

    // Ask the worker about the selected flow; again when more models have
    // answered (the pane then shows them all).
    {
        let bridge = bridge.clone();
        let dispatcher = state.dispatcher();
        let key = (
            state.job,
            state.inference.run,
            state.selected_flow,
            state.inference.status,
        );
        use_effect_with(key, move |(job, run, flow, _)| {
            if let Some(flow) = *flow {
                let command = ToWorker::Detail {
                    job: *job,
                    run: *run,
                    flow,
                };
                send(&bridge, &command, &dispatcher);
            }
        });
    }

    // Commands from the explanation views, and share links (the URL
    // fragment, at start and whenever it changes).
    let worker_link = {
        let bridge = bridge.clone();
        let dispatcher = state.dispatcher();
        use_memo((), move |_| {
            WorkerLink(Callback::from(move |command: ToWorker| {
                send(&bridge, &command, &dispatcher)
            }))
        })
    };
    {
        let dispatcher = state.dispatcher();
        use_effect_with((), move |_| {
            let open = move || {
                let hash = web_sys::window()
                    .and_then(|w| w.location().hash().ok())
                    .unwrap_or_default();
                let fragment = hash.trim_start_matches('#');
                if !fragment.is_empty() {
                    dispatcher.dispatch(Action::Explain(ExplainAction::OpenShared(
                        fragment.to_string(),
                    )));
                }
            };
            open();
            let listener = wasm_bindgen::closure::Closure::<dyn Fn()>::new(open);
            let window = web_sys::window();
            if let Some(w) = &window {
                let _ = w.add_event_listener_with_callback(
                    "hashchange",
                    wasm_bindgen::JsCast::unchecked_ref(listener.as_ref()),
                );
            }
            move || {
                if let Some(w) = window {
                    let _ = w.remove_event_listener_with_callback(
                        "hashchange",
                        wasm_bindgen::JsCast::unchecked_ref(listener.as_ref()),
                    );
                }
            }
        });
    }

    let on_pack = {
        let dispatcher = state.dispatcher();
        Callback::from(move |id: String| dispatcher.dispatch(Action::SelectPack(id)))
    };

    html! {
        <ContextProvider<AppContext> context={state}>
        <ContextProvider<WorkerLink> context={(*worker_link).clone()}>
            <header class="masthead">
                <h1>{ "flowlens" }</h1>
                <p class="tagline">{ "See the flows in a packet capture. The file is read in this tab and never leaves your computer." }</p>
            </header>
            <main>
                <DropZone {on_file} />
                <ProgressPanel {on_cancel} />
                <ErrorBanner />
                <ModelsPanel {on_pack} />
                <SummaryPanel />
                <div class="results">
                    <div class="results-main">
                        <ClassChart />
                        <FlowFilters />
                        <FlowTable />
                    </div>
                    <FlowDetailPane />
                </div>
                <FlowExplain />
                <CaptureFields />
                <AuditPanel />
            </main>
        </ContextProvider<WorkerLink>>
        </ContextProvider<AppContext>>
    }
}

/// Post `command` to the worker; a failure becomes a readable error.
fn send(
    bridge: &std::rc::Rc<std::cell::RefCell<Option<WorkerBridge>>>,
    command: &ToWorker,
    dispatcher: &yew::UseReducerDispatcher<AppState>,
) {
    let sent = match bridge.borrow().as_ref() {
        Some(b) => b.send(command, None).map_err(|e| describe(&e)),
        None => Err("it is not running".to_string()),
    };
    if let Err(e) = sent {
        dispatcher.dispatch(Action::WorkerFailed(format!(
            "The background worker could not be asked: {e}"
        )));
    }
}
