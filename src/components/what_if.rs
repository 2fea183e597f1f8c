//! What-if: change a field of the shown flow (TTL, window, a port, any
//! byte under the cursor) and every model of the pack re-classifies it at
//! once (the explanation view asks the worker again with the edits).
//!
//! Test hooks: `data-testid="what-if"`, one `data-testid="what-if-field"`
//! form per editable field (`data-field`), `data-testid="what-if-reset"`.

use flowlens_core::repr::Field;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::use_app;
use crate::explain::{field_edits, merge_edits, ExplainView};
use crate::explain_state::ExplainAction;
use crate::state::{Action, Shared};

/// Fields offered for editing, in this order.
const EDITABLE: [Field; 8] = [
    Field::Ipv4Ttl,
    Field::Ipv6HopLimit,
    Field::TcpWindow,
    Field::TcpSport,
    Field::TcpDport,
    Field::UdpSport,
    Field::UdpDport,
    Field::Ipv4Identification,
];

#[derive(Properties, PartialEq)]
pub struct WhatIfProps {
    pub view: Shared<ExplainView>,
    pub cursor: (usize, usize),
}

#[function_component(WhatIf)]
pub fn what_if(props: &WhatIfProps) -> Html {
    let state = use_app();
    let v = &props.view.0;
    let (p, b) = props.cursor;
    let apply = {
        let d = state.dispatcher();
        let edits = v.edits.clone();
        move |new: Vec<flowlens_core::explain::ByteEdit>| {
            d.dispatch(Action::Explain(ExplainAction::Edits(Some(merge_edits(
                &edits, &new,
            )))))
        }
    };
    let reset = {
        let d = state.dispatcher();
        Callback::from(move |_: MouseEvent| {
            d.dispatch(Action::Explain(ExplainAction::Edits(Some(Vec::new()))))
        })
    };
    let spans: Vec<_> = v
        .field_map
        .get(p)
        .map(|pf| {
            EDITABLE
                .iter()
                .filter_map(|f| pf.fields.iter().find(|s| s.field == *f))
                .filter(|s| {
                    usize::from(s.start) + usize::from(s.len) <= v.bytes_per_packet as usize
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();

    let field_form = |s: &flowlens_core::repr::FieldSpan| {
        let input = NodeRef::default();
        let current = v
            .value_be(p, usize::from(s.start), usize::from(s.len))
            .unwrap_or(0);
        let max = if s.len >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * u32::from(s.len))) - 1
        };
        let onsubmit = {
            let input = input.clone();
            let apply = apply.clone();
            let (start, len) = (s.start, s.len);
            Callback::from(move |e: SubmitEvent| {
                e.prevent_default();
                if let Some(el) = input.cast::<HtmlInputElement>() {
                    if let Ok(value) = el.value().trim().parse::<u64>() {
                        apply(field_edits(p as u16, start, len, value.min(max)));
                    }
                }
            })
        };
        let hidden = v.hides(s.field);
        let id = format!("wi-{}", s.field.name());
        html! {
            <form class="what-if-field" data-testid="what-if-field" data-field={s.field.name()} {onsubmit}>
                <label for={id.clone()}>{ s.field.name() }</label>
                <input id={id} ref={input} type="number" min="0" max={max.to_string()} value={current.to_string()} />
                <button type="submit">{ "Apply" }</button>
                if hidden { <span class="dim">{ "hidden by this model's view" }</span> }
            </form>
        }
    };

    let byte_form = {
        let input = NodeRef::default();
        let at = p * v.bytes_per_packet as usize + b;
        let current = v.bytes.get(at).copied().unwrap_or(0);
        let onsubmit = {
            let input = input.clone();
            let apply = apply.clone();
            Callback::from(move |e: SubmitEvent| {
                e.prevent_default();
                if let Some(el) = input.cast::<HtmlInputElement>() {
                    let text = el.value();
                    let text = text.trim().trim_start_matches("0x");
                    if let Ok(value) = u8::from_str_radix(text, 16) {
                        apply(field_edits(p as u16, b as u16, 1, u64::from(value)));
                    }
                }
            })
        };
        html! {
            <form class="what-if-field" data-testid="what-if-byte" {onsubmit}>
                <label for="wi-byte">{ format!("Byte {b} of packet {} ({}), hex", p + 1, v.field_at(p, b).name()) }</label>
                <input id="wi-byte" ref={input} type="text" inputmode="text" pattern="(0x)?[0-9a-fA-F]{1,2}" size="4" value={format!("{current:02x}")} />
                <button type="submit">{ "Apply" }</button>
            </form>
        }
    };

    html! {
        <section class="what-if" data-testid="what-if" aria-label="What if">
            <h3>{ format!("What if… (packet {})", p + 1) }</h3>
            <p class="note">{ "Change a field and every model of the pack classifies the edited flow at once. Pick a packet or a byte on the grid." }</p>
            { for spans.iter().map(field_form) }
            if v.field_map.get(p).is_some() { { byte_form } }
            if !v.edits.is_empty() {
                <p class="edits">
                    { format!("{} byte{} edited. ", v.edits.len(), if v.edits.len() == 1 { "" } else { "s" }) }
                    <button type="button" data-testid="what-if-reset" onclick={reset}>{ "Undo all edits" }</button>
                </p>
            }
        </section>
    }
}
