//! Why reading stopped early, in words, above the flows that were kept.

use yew::prelude::*;

use super::use_app;
use crate::format;

#[function_component(ErrorBanner)]
pub fn error_banner() -> Html {
    let state = use_app();
    let Some(message) = state.error.clone() else {
        return html! {};
    };
    let kept = state.flows.0.len() as u64;
    html! {
        <div class="error-banner" role="alert" data-testid="error">
            <p class="error-title">{ "The capture could not be read to the end" }</p>
            <p class="error-message">{ message }</p>
            if kept > 0 {
                <p class="error-kept">
                    { if kept == 1 {
                        "The flow read before the problem is shown below.".to_string()
                    } else {
                        format!("The {} flows read before the problem are shown below.", format::count(kept))
                    } }
                </p>
            }
        </div>
    }
}
