//! Beside the heatmap: for the deep models a Wireshark-like field tree
//! (per packet, each header field with its decoded value and the weight
//! summed over its bytes); for C4.5 the decision path; for k-NN the
//! nearest reference flows.

use flowlens_core::baselines::Went;
use yew::prelude::*;

use crate::explain::ExplainView;
use crate::state::Shared;

#[derive(Properties, PartialEq)]
pub struct ReasonsProps {
    pub view: Shared<ExplainView>,
    /// The packet the cursor is in (opened in the tree).
    pub selected: usize,
}

#[function_component(Reasons)]
pub fn reasons(props: &ReasonsProps) -> Html {
    let v = &props.view.0;
    match v.architecture.as_str() {
        "c45" => decision_path(v),
        "knn" => neighbours(v),
        _ => field_tree(v, props.selected),
    }
}

fn field_tree(v: &ExplainView, selected: usize) -> Html {
    let Some(fields) = &v.fields else {
        return html! {};
    };
    let site = fields.site_dependent_share;
    html! {
        <div class="field-tree" data-testid="field-tree">
            <h3>{ "Fields, packet by packet" }</h3>
            <p class={classes!("note", (site >= flowlens_core::explain::SITE_DEPENDENT_ALERT).then_some("warn"))}>
                { format!("{:.0} % of this flow's weight sits on site-dependent fields (TTL, IP ID, checksums, seq/ack, window, options, flags).", site * 100.0) }
            </p>
            { for v.field_map.iter().enumerate().map(|(p, pf)| {
                let weights = fields.per_packet.get(p).cloned().unwrap_or_default();
                let packet_share: f32 = weights.iter().map(|w| w.share).sum();
                html! {
                    <details class="packet" open={p == selected} data-packet={p.to_string()}>
                        <summary>
                            { format!("Packet {} · {} · {} bytes", p + 1, match pf.dir { flowlens_core::Direction::Forward => "→", flowlens_core::Direction::Backward => "←" }, pf.ip_len) }
                            <span class="num dim">{ format!(" {:.1} %", packet_share * 100.0) }</span>
                        </summary>
                        <table class="fields">
                            <thead><tr><th scope="col">{ "Field" }</th><th scope="col">{ "Value" }</th><th scope="col" class="num">{ "Weight" }</th></tr></thead>
                            <tbody>
                                { for pf.fields.iter().filter(|s| s.field != flowlens_core::repr::Field::Padding).map(|s| {
                                    let w = weights.iter().find(|w| w.field == s.field);
                                    let share = w.map_or(0.0, |w| w.share);
                                    let signed = w.map_or(0.0, |w| w.signed);
                                    let hidden = v.hides(s.field);
                                    let site = s.field.group().is_site_dependent();
                                    html! {
                                        <tr class={classes!(hidden.then_some("hidden"), site.then_some("site"))} data-field={s.field.name()}>
                                            <td class="mono">{ s.field.name() }{ if site { html!{ <span class="tag" title="site-dependent">{ "site" }</span> } } else { html!{} } }</td>
                                            <td class="mono value">{ if hidden { format!("{} (hidden)", s.value) } else { s.value.clone() } }</td>
                                            <td class="num">
                                                <meter min="0" max="1" value={share.to_string()} title={format!("signed {signed:+.4}")} />
                                                { format!(" {:.1} %", share * 100.0) }
                                            </td>
                                        </tr>
                                    }
                                }) }
                            </tbody>
                        </table>
                    </details>
                }
            }) }
        </div>
    }
}

fn decision_path(v: &ExplainView) -> Html {
    let Some(tree) = &v.tree else {
        return html! {};
    };
    let class = v.classes.get(tree.class).cloned().unwrap_or_default();
    html! {
        <div class="decision-path" data-testid="decision-path">
            <h3>{ "Decision path" }</h3>
            <ol>
                { for tree.path.iter().map(|s| {
                    let test = match &s.step.went {
                        Went::Le { threshold } => format!("{} = {} ≤ {threshold}", s.step.feature_name, s.step.value_seen),
                        Went::Gt { threshold } => format!("{} = {} > {threshold}", s.step.feature_name, s.step.value_seen),
                        Went::Eq { value } => format!("{} = {value}", s.step.feature_name),
                        Went::Missing => format!("{} is missing: every branch is mixed", s.step.feature_name),
                    };
                    let from = if s.source.fields.is_empty() {
                        "the flow's packet count (no header byte)".to_string()
                    } else {
                        let fields = s.source.fields.iter().map(|f| f.name()).collect::<Vec<_>>().join(" / ");
                        match s.source.bytes.first() {
                            Some(b) => format!("{fields}, packet {} bytes {}–{}", b.packet + 1, b.start, b.start + b.len - 1),
                            None => fields,
                        }
                    };
                    html! {
                        <li data-feature={s.step.feature_name.clone()}>
                            <span class="mono">{ test }</span>
                            <span class="dim">{ format!(" · read from {from}") }</span>
                        </li>
                    }
                }) }
                <li class="leaf">{ format!("→ {class}") }</li>
            </ol>
        </div>
    }
}

fn neighbours(v: &ExplainView) -> Html {
    html! {
        <div class="neighbours" data-testid="neighbours">
            <h3>{ "Nearest reference flows" }</h3>
            <table class="fields">
                <thead><tr><th scope="col">{ "#" }</th><th scope="col">{ "Class" }</th><th scope="col" class="num">{ "Distance" }</th><th scope="col">{ "Features" }</th></tr></thead>
                <tbody>
                    { for v.neighbours.iter().enumerate().map(|(i, n)| {
                        let feats = v.feature_names.iter().zip(&n.features).take(6)
                            .map(|(name, x)| format!("{name} {x}")).collect::<Vec<_>>().join(", ");
                        html! {
                            <tr data-testid="neighbour" data-label={n.class.clone()} data-distance={n.distance.to_string()}>
                                <td class="num">{ i + 1 }</td>
                                <td>{ &n.class }</td>
                                <td class="num">{ format!("{:.3}", n.distance) }</td>
                                <td class="mono dim">{ feats }</td>
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
            <p class="note">{ format!("This flow: {}", v.feature_names.iter().zip(&v.key_features).take(6).map(|(n, x)| format!("{n} {x}")).collect::<Vec<_>>().join(", ")) }</p>
        </div>
    }
}
