//! The flows, one row each, sortable by every column.
//!
//! Rows carry stable test hooks: `data-testid="flow-row"` and the 5-tuple in
//! `data-proto`, `data-src`, `data-sport`, `data-dst`, `data-dport`, written
//! as `trainer flows --json` writes them.

use yew::prelude::*;

use super::use_app;
use crate::format;
use crate::state::{sorted_order, Action, Column, Phase};

#[function_component(FlowTable)]
pub fn flow_table() -> Html {
    let state = use_app();
    let flows = state.flows.clone();
    let sort = state.sort;
    let order = use_memo((flows.clone(), sort), |(flows, sort)| {
        sorted_order(&flows.0, *sort)
    });
    if state.phase != Phase::Done {
        return html! {};
    }
    if flows.0.is_empty() {
        return html! { <p class="empty">{ "No flows were found in this capture." }</p> };
    }

    let header = |column: Column| {
        let dispatcher = state.dispatcher();
        let onclick =
            Callback::from(move |_: MouseEvent| dispatcher.dispatch(Action::SortBy(column)));
        let aria_sort = match (sort.column == column, sort.descending) {
            (false, _) => "none",
            (true, false) => "ascending",
            (true, true) => "descending",
        };
        let arrow = match aria_sort {
            "ascending" => "▲",
            "descending" => "▼",
            _ => "",
        };
        html! {
            <th scope="col" aria-sort={aria_sort} class={classes!(column.is_numeric().then_some("num"))}>
                <button type="button" class="sort" {onclick}>
                    { column.title() }<span class="arrow" aria-hidden="true">{ arrow }</span>
                </button>
            </th>
        }
    };

    html! {
        <section class="flows" aria-label="Flows">
            <div class="table-wrap">
                <table>
                    <thead><tr>{ for Column::ALL.iter().map(|&c| header(c)) }</tr></thead>
                    <tbody>
                        { for order.iter().map(|&i| {
                            let f = &flows.0[i as usize];
                            html! {
                                <tr
                                    key={i}
                                    data-testid="flow-row"
                                    data-proto={f.proto.clone()}
                                    data-src={f.src.clone()}
                                    data-sport={f.sport.to_string()}
                                    data-dst={f.dst.clone()}
                                    data-dport={f.dport.to_string()}
                                >
                                    <td class="num dim">{ i + 1 }</td>
                                    <td>{ &f.proto }</td>
                                    <td class="addr">{ &f.src }</td>
                                    <td class="num">{ f.sport }</td>
                                    <td class="addr">{ &f.dst }</td>
                                    <td class="num">{ f.dport }</td>
                                    <td class="num">{ format::count(f.packets) }</td>
                                    <td class="num">{ format::count(f.bytes) }</td>
                                    <td class="num">{ format::duration_ns(f.duration_ns) }</td>
                                </tr>
                            }
                        }) }
                    </tbody>
                </table>
            </div>
        </section>
    }
}
