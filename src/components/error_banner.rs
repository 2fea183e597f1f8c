//! Why reading stopped early, in words, above the flows that were kept; and
//! why a model (or the model list) cannot be used.

use yew::prelude::*;

use super::use_app;
use crate::format;

#[function_component(ErrorBanner)]
pub fn error_banner() -> Html {
    let state = use_app();
    let model_errors = state.model_errors();
    let capture = state.error.clone().map(|message| {
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
    });
    html! {
        <>
            { for capture }
            if !model_errors.is_empty() {
                <div class="error-banner" role="alert" data-testid="error">
                    <p class="error-title">{ "Some models could not be used" }</p>
                    { for model_errors.iter().map(|e| html! { <p class="error-message">{ e }</p> }) }
                    if !state.flows.0.is_empty() {
                        <p class="error-kept">{ "The flows are listed below, with the predictions of the models that could run." }</p>
                    }
                </div>
            }
        </>
    }
}
