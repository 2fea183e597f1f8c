//! The byte heatmap: the model's `P × B` input, one packet per block, 16
//! bytes a line in hex with their ASCII, each byte tinted by its weight
//! (blue for evidence for the class, red against). Hovering a byte, or
//! moving to it with the arrow keys once the grid has focus, names its
//! header field, decoded value and weight below the grid.
//!
//! Test hooks: `data-testid="heatmap"` (`data-packets`, `data-bytes`), one
//! `.hm-c` cell per byte with `data-p`/`data-b`, `data-testid="byte-info"`.

use std::collections::HashSet;

use wasm_bindgen::JsCast;
use web_sys::{Element, KeyboardEvent};
use yew::prelude::*;

use crate::explain::ExplainView;
use crate::export::grid_scale;
use crate::state::Shared;

/// Bytes per line of the hex view.
const LINE: usize = 16;
/// Tint levels (CSS classes `l0` .. `l8`).
const LEVELS: f32 = 8.0;

#[derive(Properties, PartialEq)]
pub struct HeatmapProps {
    pub view: Shared<ExplainView>,
    /// Bytes to outline (what the C4.5 path read): `(packet, byte)`.
    pub highlight: Shared<HashSet<(usize, usize)>>,
    /// The byte under the cursor, `(packet, byte)`.
    pub cursor: (usize, usize),
    pub on_cursor: Callback<(usize, usize)>,
    /// Enter on a byte: edit it (what-if).
    pub on_pick: Callback<(usize, usize)>,
}

fn cell_id(p: usize, b: usize) -> String {
    format!("hm-{p}-{b}")
}

/// `(packet, byte)` of the cell an event happened on.
fn cell_of(target: Option<web_sys::EventTarget>) -> Option<(usize, usize)> {
    let el: Element = target?.dyn_into().ok()?;
    let el = el.closest(".hm-c").ok()??;
    let p = el.get_attribute("data-p")?.parse().ok()?;
    let b = el.get_attribute("data-b")?.parse().ok()?;
    Some((p, b))
}

#[function_component(Heatmap)]
pub fn heatmap(props: &HeatmapProps) -> Html {
    let view = props.view.clone();
    let (p_n, b_n) = (view.0.packets as usize, view.0.bytes_per_packet as usize);
    let (cp, cb) = props.cursor;

    // Mark the cursor's cell without re-rendering the grid.
    {
        let id = cell_id(cp, cb);
        use_effect_with((id, view.clone()), move |(id, _)| {
            let doc = web_sys::window().and_then(|w| w.document());
            if let Some(doc) = doc {
                if let Ok(list) = doc.query_selector_all(".hm-c.cur") {
                    for i in 0..list.length() {
                        if let Some(el) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                            let _ = el.class_list().remove_1("cur");
                        }
                    }
                }
                if let Some(el) = doc.get_element_by_id(id) {
                    let _ = el.class_list().add_1("cur");
                }
            }
        });
    }

    let grid = {
        let highlight = props.highlight.clone();
        use_memo((view.clone(), highlight), |(view, highlight)| {
            grid_html(&view.0, &highlight.0)
        })
    };

    let onmouseover = {
        let on_cursor = props.on_cursor.clone();
        Callback::from(move |e: MouseEvent| {
            if let Some(c) = cell_of(e.target()) {
                on_cursor.emit(c);
            }
        })
    };
    let onclick = {
        let on_cursor = props.on_cursor.clone();
        let on_pick = props.on_pick.clone();
        Callback::from(move |e: MouseEvent| {
            if let Some(c) = cell_of(e.target()) {
                on_cursor.emit(c);
                on_pick.emit(c);
            }
        })
    };
    let onkeydown = {
        let on_cursor = props.on_cursor.clone();
        let on_pick = props.on_pick.clone();
        Callback::from(move |e: KeyboardEvent| {
            let (p, b) = (cp, cb);
            let next = match e.key().as_str() {
                "ArrowRight" if b + 1 < b_n => (p, b + 1),
                "ArrowRight" if p + 1 < p_n => (p + 1, 0),
                "ArrowLeft" if b > 0 => (p, b - 1),
                "ArrowLeft" if p > 0 => (p - 1, b_n.saturating_sub(1)),
                "ArrowDown" if b + LINE < b_n => (p, b + LINE),
                "ArrowDown" if p + 1 < p_n => (p + 1, b % LINE),
                "ArrowUp" if b >= LINE => (p, b - LINE),
                "ArrowUp" if p > 0 => (p - 1, ((b_n - 1) / LINE) * LINE + b % LINE),
                "PageDown" if p + 1 < p_n => (p + 1, b),
                "PageUp" if p > 0 => (p - 1, b),
                "Home" => (p, 0),
                "End" => (p, b_n.saturating_sub(1)),
                "Enter" | " " => {
                    e.prevent_default();
                    on_pick.emit((p, b));
                    return;
                }
                _ => return,
            };
            e.prevent_default();
            on_cursor.emit(next);
            if let Some(el) = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.get_element_by_id(&cell_id(next.0, next.1)))
            {
                let opts = web_sys::ScrollIntoViewOptions::new();
                opts.set_block(web_sys::ScrollLogicalPosition::Nearest);
                el.scroll_into_view_with_scroll_into_view_options(&opts);
            }
        })
    };

    html! {
        <div class="heatmap-wrap">
            <div
                class="heatmap"
                data-testid="heatmap"
                data-packets={p_n.to_string()}
                data-bytes={b_n.to_string()}
                tabindex="0"
                role="grid"
                aria-label={format!("Byte heatmap, {p_n} packets of {b_n} bytes. Arrow keys move between bytes, Enter edits one.")}
                aria-activedescendant={cell_id(cp, cb)}
                aria-describedby="byte-info"
                {onmouseover}
                {onclick}
                {onkeydown}
            >
                { (*grid).clone() }
            </div>
            <p class="byte-info" id="byte-info" data-testid="byte-info" aria-live="polite">
                { byte_info(&view.0, cp, cb) }
            </p>
        </div>
    }
}

/// What the info line says about byte `b` of packet `p`.
pub fn byte_info(view: &ExplainView, p: usize, b: usize) -> String {
    let field = view.field_at(p, b);
    let at = p * view.bytes_per_packet as usize + b;
    let byte = view.bytes.get(at).copied().unwrap_or(0);
    let mut s = format!("Packet {} · byte {b} (0x{byte:02x})", p + 1);
    if view.field_map.get(p).is_none() {
        s.push_str(" · no such packet in the flow: the model sees zeros (padding)");
        return s;
    }
    s.push_str(&format!(" · {}", field.name()));
    if let Some(span) = view.span_at(p, b) {
        if !span.value.is_empty() {
            s.push_str(&format!(" = {}", span.value));
        }
    }
    if let Some(w) = view.weight(p, b) {
        let total: f32 = view
            .grid
            .as_ref()
            .map(|g| g.weights.iter().map(|w| w.abs()).sum())
            .unwrap_or(0.0);
        let share = if total > 0.0 {
            w.abs() / total * 100.0
        } else {
            0.0
        };
        s.push_str(&format!(" · weight {w:+.4} ({share:.2} % of the flow)"));
    }
    if view.hides(field) {
        s.push_str(" · hidden by the model's view");
    }
    if view.original.get(at) != view.bytes.get(at) {
        s.push_str(&format!(
            " · edited (was 0x{:02x})",
            view.original.get(at).copied().unwrap_or(0)
        ));
    }
    s
}

fn grid_html(view: &ExplainView, highlight: &HashSet<(usize, usize)>) -> Html {
    let (p_n, b_n) = (view.packets as usize, view.bytes_per_packet as usize);
    let scale = grid_scale(view);
    let packets = (0..p_n).map(|p| {
        let present = view.field_map.get(p);
        let head = match present {
            Some(pf) => format!(
                "Packet {} · {} · {} bytes on the wire",
                p + 1,
                match pf.dir {
                    flowlens_core::Direction::Forward => "→ from the initiator",
                    flowlens_core::Direction::Backward => "← to the initiator",
                },
                pf.ip_len
            ),
            None => format!("Packet {} · not in the flow (all zero)", p + 1),
        };
        let lines = (0..b_n.div_ceil(LINE)).map(|line| {
            let start = line * LINE;
            let end = (start + LINE).min(b_n);
            let cells = (start..end).map(|b| {
                let at = p * b_n + b;
                let byte = view.bytes.get(at).copied().unwrap_or(0);
                let field = view.field_at(p, b);
                let w = view.weight(p, b).unwrap_or(0.0);
                let level = ((w.abs() / scale) * LEVELS).round().clamp(0.0, LEVELS) as u8;
                let class = classes!(
                    "hm-c",
                    format!("l{level}"),
                    (w < 0.0).then_some("neg"),
                    (present.is_none() || field == flowlens_core::repr::Field::Padding)
                        .then_some("pad"),
                    view.hides(field).then_some("masked"),
                    (view.original.get(at) != view.bytes.get(at)).then_some("edited"),
                    highlight.contains(&(p, b)).then_some("hit"),
                    (b % LINE == 7).then_some("gap"),
                );
                let title = match view.span_at(p, b) {
                    Some(s) if !s.value.is_empty() => format!("{} = {}", field.name(), s.value),
                    _ => field.name().to_string(),
                };
                html! {
                    <span id={cell_id(p, b)} class={class} role="gridcell" data-p={p.to_string()} data-b={b.to_string()} data-field={field.name()} title={title}>
                        { format!("{byte:02x}") }
                    </span>
                }
            });
            let ascii: String = (start..end)
                .map(|b| {
                    let c = view.bytes.get(p * b_n + b).copied().unwrap_or(0);
                    if c.is_ascii_graphic() || c == b' ' {
                        c as char
                    } else {
                        '·'
                    }
                })
                .collect();
            html! {
                <div class="hm-line" role="row">
                    <span class="hm-off" aria-hidden="true">{ format!("{start:04x}") }</span>
                    <span class="hm-hex">{ for cells }</span>
                    <span class="hm-ascii" aria-hidden="true">{ ascii }</span>
                </div>
            }
        });
        html! {
            <div class={classes!("hm-packet", present.is_none().then_some("absent"))} role="rowgroup" data-packet={p.to_string()}>
                <div class="hm-head">{ head }</div>
                { for lines }
            </div>
        }
    });
    html! { <>{ for packets }</> }
}
