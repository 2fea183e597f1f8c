//! Share the shown view as a link whose fragment carries it (never sent
//! to a server: browsers keep the fragment to themselves), and export it
//! as SVG, PNG or JSON, made in this tab.
//!
//! Test hooks: `data-testid="share-link"` (its `href`),
//! `data-testid="share-payload"` (the include-payload toggle),
//! `data-testid="export-svg"`, `export-png`, `export-json`.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::use_app;
use crate::explain::ExplainView;
use crate::explain_state::ExplainAction;
use crate::export;
use crate::state::{Action, Shared};

#[derive(Properties, PartialEq)]
pub struct ShareExportProps {
    pub view: Shared<ExplainView>,
}

/// The page's address without its fragment.
fn page_url() -> String {
    web_sys::window()
        .and_then(|w| {
            let l = w.location();
            Some(format!(
                "{}{}{}",
                l.origin().ok()?,
                l.pathname().ok()?,
                l.search().ok()?
            ))
        })
        .unwrap_or_default()
}

#[function_component(ShareExport)]
pub fn share_export(props: &ShareExportProps) -> Html {
    let state = use_app();
    let v = props.view.clone();
    let include = state.explain.share_payload;
    let copied = use_state(|| false);
    let fragment =
        v.0.share
            .as_ref()
            .map(|s| match (&s.with_payload, include) {
                (Some(with), true) => with.clone(),
                _ => s.without_payload.clone(),
            });
    let href = fragment.map(|f| format!("{}#{f}", page_url()));
    let toggle = {
        let d = state.dispatcher();
        Callback::from(move |e: Event| {
            let on = e
                .target_dyn_into::<HtmlInputElement>()
                .is_some_and(|i| i.checked());
            d.dispatch(Action::Explain(ExplainAction::SharePayload(on)))
        })
    };
    let copy = {
        let href = href.clone();
        let copied = copied.clone();
        Callback::from(move |_: MouseEvent| {
            if let (Some(w), Some(h)) = (web_sys::window(), href.as_ref()) {
                let _ = w.navigator().clipboard().write_text(h);
                copied.set(true);
            }
        })
    };
    let name = |ext: &str| {
        let what = match v.0.flow {
            Some(i) => format!("flow{}", i + 1),
            None => "shared".into(),
        };
        let arch =
            v.0.model_id
                .rsplit('.')
                .next()
                .unwrap_or("model")
                .to_string();
        format!("flowlens-{what}-{arch}.{ext}")
    };
    let model_name = v.0.model_id.clone();
    let svg_click = {
        let v = v.clone();
        let (name, model) = (name("svg"), model_name.clone());
        Callback::from(move |_: MouseEvent| {
            let s = export::svg(&v.0, &model);
            report(export::download(&name, "image/svg+xml", s.as_bytes()));
        })
    };
    let png_click = {
        let v = v.clone();
        let (name, model) = (name("png"), model_name.clone());
        Callback::from(move |_: MouseEvent| {
            report(export::download_png(&name, &export::svg(&v.0, &model)));
        })
    };
    let json_click = {
        let v = v.clone();
        let name = name("json");
        Callback::from(
            move |_: MouseEvent| match serde_json::to_vec_pretty(&*v.0) {
                Ok(bytes) => report(export::download(&name, "application/json", &bytes)),
                Err(e) => web_sys::console::error_1(&format!("flowlens: JSON export: {e}").into()),
            },
        )
    };
    let payload_toggle =
        v.0.flow.is_some() && v.0.share.as_ref().is_some_and(|s| s.with_payload.is_some());

    html! {
        <section class="share" aria-label="Share and export">
            <h3>{ "Share without uploading" }</h3>
            if let Some(href) = href {
                <p class="note">{ "The link carries this flow as the model sees it (addresses are always zero), the model, the method and your edits, inside the part after #, which browsers never send to a server. Whoever opens it re-runs the model in their own tab." }</p>
                <p class="share-row">
                    <a data-testid="share-link" class="share-link" href={href.clone()}>{ "Link to this view" }</a>
                    <button type="button" onclick={copy}>{ if *copied { "Copied" } else { "Copy link" } }</button>
                    <span class="dim">{ format!("{} characters", href.len()) }</span>
                </p>
                if payload_toggle {
                    <label class="toggle">
                        <input type="checkbox" data-testid="share-payload" checked={include} onchange={toggle} />
                        { " Include payload bytes" }
                    </label>
                    if include {
                        <p class="warn-box" role="note">{ "The link now holds the first payload bytes of each packet: application data such as host names, cookies or message text may be readable by anyone who gets it." }</p>
                    }
                } else if !v.0.payload_included {
                    <p class="note">{ "This link left the payload out: payload bytes are zero here, so models that read them may answer differently than for the original flow." }</p>
                }
            } else {
                <p class="note">{ "No link can be made for this view." }</p>
            }
            <h3>{ "Export" }</h3>
            <p class="export-row">
                <button type="button" data-testid="export-svg" onclick={svg_click}>{ "SVG" }</button>
                <button type="button" data-testid="export-png" onclick={png_click}>{ "PNG" }</button>
                <button type="button" data-testid="export-json" onclick={json_click}>{ "JSON" }</button>
            </p>
        </section>
    }
}

fn report(r: Result<(), wasm_bindgen::JsValue>) {
    if let Err(e) = r {
        web_sys::console::error_2(&"flowlens: export failed".into(), &e);
    }
}
