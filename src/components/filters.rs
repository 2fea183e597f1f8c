//! Which flows the table shows: by predicted class (of one model or of the
//! majority), protocol and port.

use std::collections::BTreeSet;

use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::use_app;
use crate::state::{Action, ByModel, Filter, Phase};

#[function_component(FlowFilters)]
pub fn flow_filters() -> Html {
    let state = use_app();
    let protos = use_memo(state.flows.clone(), |flows| {
        flows
            .0
            .iter()
            .map(|f| f.proto.clone())
            .collect::<BTreeSet<_>>()
    });
    if state.phase != Phase::Done || state.flows.0.is_empty() {
        return html! {};
    }
    let filter = state.filter.clone();
    let inf = &state.inference;
    let classes: Vec<String> = inf
        .models
        .0
        .first()
        .map(|m| m.classes.clone())
        .unwrap_or_default();

    let set = {
        let dispatcher = state.dispatcher();
        let filter = filter.clone();
        move |f: &dyn Fn(&mut Filter)| {
            let mut next = filter.clone();
            f(&mut next);
            dispatcher.dispatch(Action::SetFilter(next));
        }
    };
    let on_class = {
        let set = set.clone();
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<HtmlSelectElement>().value();
            set(&|f| f.class = (!v.is_empty()).then(|| v.clone()));
        })
    };
    let on_by = {
        let set = set.clone();
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<HtmlSelectElement>().value();
            let by = v
                .parse::<usize>()
                .map(ByModel::Model)
                .unwrap_or(ByModel::Majority);
            set(&|f| f.by = by);
        })
    };
    let on_proto = {
        let set = set.clone();
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<HtmlSelectElement>().value();
            set(&|f| f.proto = (!v.is_empty()).then(|| v.clone()));
        })
    };
    let on_port = {
        let set = set.clone();
        Callback::from(move |e: InputEvent| {
            let v = e.target_unchecked_into::<HtmlInputElement>().value();
            set(&|f| f.port = v.trim().parse::<u16>().ok());
        })
    };
    let on_clear = {
        let set = set.clone();
        Callback::from(move |_: MouseEvent| {
            set(&|f| {
                *f = Filter {
                    by: f.by,
                    ..Filter::default()
                }
            })
        })
    };
    let by_value = match filter.by {
        ByModel::Majority => String::new(),
        ByModel::Model(m) => m.to_string(),
    };

    html! {
        <form class="filters" aria-label="Filter the flows" onsubmit={Callback::from(|e: SubmitEvent| e.prevent_default())}>
            if !classes.is_empty() {
                <label>
                    <span>{ "Class" }</span>
                    <select data-testid="filter-class" onchange={on_class}>
                        <option value="" selected={filter.class.is_none()}>{ "any" }</option>
                        { for classes.iter().map(|c| html! {
                            <option value={c.clone()} selected={filter.class.as_deref() == Some(c.as_str())}>{ c }</option>
                        }) }
                    </select>
                </label>
                <label>
                    <span>{ "according to" }</span>
                    <select data-testid="filter-by" onchange={on_by}>
                        <option value="" selected={by_value.is_empty()}>{ "majority of models" }</option>
                        { for inf.models.0.iter().enumerate().map(|(i, m)| html! {
                            <option value={i.to_string()} selected={by_value == i.to_string()}>{ &m.short }</option>
                        }) }
                    </select>
                </label>
            }
            <label>
                <span>{ "Protocol" }</span>
                <select data-testid="filter-proto" onchange={on_proto}>
                    <option value="" selected={filter.proto.is_none()}>{ "any" }</option>
                    { for protos.iter().map(|p| html! {
                        <option value={p.clone()} selected={filter.proto.as_deref() == Some(p.as_str())}>{ p }</option>
                    }) }
                </select>
            </label>
            <label>
                <span>{ "Port" }</span>
                <input
                    type="number"
                    min="0"
                    max="65535"
                    inputmode="numeric"
                    placeholder="any"
                    data-testid="filter-port"
                    value={filter.port.map(|p| p.to_string()).unwrap_or_default()}
                    oninput={on_port}
                />
            </label>
            if filter.is_active() {
                <button type="button" class="link" onclick={on_clear}>{ "Clear filters" }</button>
            }
        </form>
    }
}
