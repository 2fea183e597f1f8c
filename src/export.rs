//! Exports of the explanation shown: JSON (the view as the worker computed
//! it), SVG (packet bars and the byte heatmap, self-contained) and PNG (the
//! same SVG drawn on a canvas). Files are made in the page and saved
//! through `blob:` URLs: nothing is uploaded, and the CSP's `connect-src`
//! stays `'self'` (`img-src` allows `blob:` for the PNG step).

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::explain::ExplainView;

/// The heatmap's colour ramp in exported files (no page CSS there).
const POSITIVE: (u8, u8, u8) = (11, 99, 197);
const NEGATIVE: (u8, u8, u8) = (201, 64, 36);
const CELL: u32 = 10;
const LABEL_W: u32 = 70;

/// Largest |weight| of the view's grid (1 when there is none).
pub fn grid_scale(view: &ExplainView) -> f32 {
    view.grid
        .as_ref()
        .map(|g| g.weights.iter().fold(0.0f32, |m, w| m.max(w.abs())))
        .filter(|m| *m > 0.0)
        .unwrap_or(1.0)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A self-contained SVG of the view: title, predictions, packet bars and
/// the `P × B` heatmap (one square per byte, packet per row).
pub fn svg(view: &ExplainView, model_name: &str) -> String {
    let p = view.packets;
    let b = view.bytes_per_packet;
    let width = LABEL_W + b * CELL + 20;
    let top = 70;
    let height = top + p * (CELL + 4) + 30;
    let scale = grid_scale(view);
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    out.push_str(&format!(
        r##"<rect width="{width}" height="{height}" fill="#ffffff"/>"##
    ));
    let label = view
        .predictions
        .iter()
        .find(|o| o.id == view.model_id)
        .and_then(|o| view.classes.get(o.label as usize))
        .cloned()
        .unwrap_or_default();
    let method = view.method.map(|m| m.name()).unwrap_or("decision path");
    let title = match view.flow {
        Some(i) => format!("Flow {} · {model_name} · {method}", i + 1),
        None => format!("Shared flow · {model_name} · {method}"),
    };
    out.push_str(&format!(
        r##"<text x="10" y="20" font-size="15" font-weight="bold" fill="#1b1f24">{}</text>"##,
        escape(&title)
    ));
    out.push_str(&format!(
        r##"<text x="10" y="40" fill="#1b1f24">{}</text>"##,
        escape(&format!(
            "Predicted: {label} · pack {} · view {} · {} edits",
            view.pack_title,
            view.view,
            view.edits.len()
        ))
    ));
    for row in 0..p {
        let y = top + row * (CELL + 4);
        let weight = view
            .packet_weights
            .get(row as usize)
            .copied()
            .unwrap_or(0.0);
        out.push_str(&format!(
            r##"<text x="4" y="{}" fill="#5a6470">{}</text><rect x="40" y="{}" width="{}" height="{}" fill="#0b63c5"/>"##,
            y + CELL - 1,
            row + 1,
            y + 1,
            (weight.clamp(0.0, 1.0) * 26.0).round(),
            CELL - 2
        ));
        for col in 0..b {
            let i = (row * b + col) as usize;
            let w = view
                .grid
                .as_ref()
                .and_then(|g| g.weights.get(i))
                .copied()
                .unwrap_or(0.0);
            let (r, g, bl) = if w < 0.0 { NEGATIVE } else { POSITIVE };
            let a = (w.abs() / scale).clamp(0.0, 1.0);
            let mix = |c: u8| (255.0 - (255.0 - f32::from(c)) * a).round() as u8;
            let x = LABEL_W + col * CELL;
            out.push_str(&format!(
                r##"<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="#{:02x}{:02x}{:02x}" stroke="#e3e7ec" stroke-width="0.5"/>"##,
                mix(r),
                mix(g),
                mix(bl)
            ));
        }
    }
    out.push_str(&format!(
        r##"<text x="10" y="{}" fill="#5a6470">{}</text></svg>"##,
        height - 10,
        escape("flowlens · rows: packets · columns: bytes from the IP header on · colour: weight")
    ));
    out
}

/// Saves `data` as `name` through a temporary `blob:` URL.
pub fn download(name: &str, mime: &str, data: &[u8]) -> Result<(), JsValue> {
    let array = js_sys::Uint8Array::from(data);
    let parts = js_sys::Array::of1(&array);
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts)?;
    download_blob(name, &blob)
}

fn download_blob(name: &str, blob: &web_sys::Blob) -> Result<(), JsValue> {
    let url = web_sys::Url::create_object_url_with_blob(blob)?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    a.set_href(&url);
    a.set_download(name);
    a.set_class_name("visually-hidden");
    let body = document.body().ok_or("no body")?;
    body.append_child(&a)?;
    a.click();
    body.remove_child(&a)?;
    // Let the download start before the URL goes.
    let revoke = Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    if let Some(w) = web_sys::window() {
        w.set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 10_000)?;
    }
    Ok(())
}

/// Draws `svg` on a canvas and saves it as a PNG (2× for sharp text).
pub fn download_png(name: &str, svg: &str) -> Result<(), JsValue> {
    let parts = js_sys::Array::of1(&JsValue::from_str(svg));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type("image/svg+xml");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let img = web_sys::HtmlImageElement::new()?;
    let name = name.to_string();
    let img2 = img.clone();
    let url2 = url.clone();
    let onload = Closure::once_into_js(move || {
        let result = (|| -> Result<(), JsValue> {
            let document = web_sys::window()
                .and_then(|w| w.document())
                .ok_or("no document")?;
            let canvas: web_sys::HtmlCanvasElement =
                document.create_element("canvas")?.dyn_into()?;
            let (w, h) = (img2.natural_width(), img2.natural_height());
            canvas.set_width(w * 2);
            canvas.set_height(h * 2);
            let ctx: web_sys::CanvasRenderingContext2d = canvas
                .get_context("2d")?
                .ok_or("no 2d canvas")?
                .dyn_into()?;
            ctx.scale(2.0, 2.0)?;
            ctx.draw_image_with_html_image_element(&img2, 0.0, 0.0)?;
            let _ = web_sys::Url::revoke_object_url(&url2);
            let save = Closure::once_into_js(move |blob: JsValue| {
                if let Ok(blob) = blob.dyn_into::<web_sys::Blob>() {
                    if let Err(e) = download_blob(&name, &blob) {
                        web_sys::console::error_2(&"flowlens: PNG export failed".into(), &e);
                    }
                }
            });
            canvas.to_blob(save.unchecked_ref())
        })();
        if let Err(e) = result {
            web_sys::console::error_2(&"flowlens: PNG export failed".into(), &e);
        }
    });
    img.set_onload(Some(onload.unchecked_ref()));
    img.set_src(&url);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_escapes_names_and_draws_every_byte() {
        let view = ExplainView {
            req: 1,
            flow: Some(0),
            pack_id: "p".into(),
            pack_title: "<pack>".into(),
            model_id: "m".into(),
            architecture: "cnn".into(),
            classes: vec!["a&b".into()],
            view: "all".into(),
            packets: 2,
            bytes_per_packet: 3,
            bytes: vec![0; 6],
            original: vec![0; 6],
            field_ids: vec![flowlens_core::repr::Field::Padding; 6],
            hidden_fields: Vec::new(),
            field_map: Vec::new(),
            key_features: Vec::new(),
            feature_names: Vec::new(),
            method: None,
            grid: None,
            fields: None,
            packet_weights: Vec::new(),
            tree: None,
            neighbours: Vec::new(),
            predictions: Vec::new(),
            edits: Vec::new(),
            selected_packet: None,
            share: None,
            payload_included: true,
        };
        let s = svg(&view, "CNN");
        assert!(s.contains("&lt;pack&gt;"));
        assert!(!s.contains("<pack>"));
        assert_eq!(s.matches(r#"stroke-width="0.5""#).count(), 6);
    }
}
