//! Reading status, progress bar and the cancel button.

use yew::prelude::*;

use super::use_app;
use crate::format;
use crate::state::Phase;

#[derive(Properties, PartialEq)]
pub struct ProgressProps {
    /// The user wants the current file to stop being read.
    pub on_cancel: Callback<()>,
}

#[function_component(ProgressPanel)]
pub fn progress_panel(props: &ProgressProps) -> Html {
    let state = use_app();
    let p = &state.progress;
    let onclick = {
        let on_cancel = props.on_cancel.clone();
        Callback::from(move |_: MouseEvent| on_cancel.emit(()))
    };
    let file = state.file_name.clone().unwrap_or_default();

    html! {
        <section class="status" aria-live="polite">
            <p class="status-line">
                <span class="label">{ "Status: " }</span>
                <span data-testid="parse-status" class={classes!("phase", state.phase.as_str())}>
                    { state.phase.as_str() }
                </span>
                if !file.is_empty() {
                    <span class="file-name" title={file.clone()}>{ file.clone() }</span>
                }
            </p>
            if state.phase == Phase::Parsing {
                <div class="progress-row">
                    <progress
                        max={p.bytes_total.max(1).to_string()}
                        value={p.bytes_done.to_string()}
                        aria-label="Share of the file read"
                    />
                    <span class="progress-text">
                        { format!(
                            "{} % · {} of {} · {} flows so far",
                            format::percent(p.bytes_done, p.bytes_total),
                            format::bytes(p.bytes_done),
                            format::bytes(p.bytes_total),
                            format::count(p.flows),
                        ) }
                    </span>
                    <button
                        type="button"
                        class="cancel"
                        {onclick}
                        disabled={state.cancel_requested}
                    >
                        { if state.cancel_requested { "Stopping…" } else { "Cancel" } }
                    </button>
                </div>
            }
        </section>
    }
}
