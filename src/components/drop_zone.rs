//! Where a capture comes in: drag and drop, or a file picker (click, Enter
//! or Space on the focused zone).

use web_sys::{DragEvent, File, HtmlInputElement, KeyboardEvent};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct DropZoneProps {
    /// A file was chosen.
    pub on_file: Callback<File>,
}

#[function_component(DropZone)]
pub fn drop_zone(props: &DropZoneProps) -> Html {
    let input = use_node_ref();
    let dragging = use_state_eq(|| false);

    let open_picker = {
        let input = input.clone();
        move || {
            if let Some(el) = input.cast::<HtmlInputElement>() {
                el.click();
            }
        }
    };
    let onclick = {
        let open_picker = open_picker.clone();
        Callback::from(move |_: MouseEvent| open_picker())
    };
    let onkeydown = Callback::from(move |e: KeyboardEvent| {
        if e.key() == "Enter" || e.key() == " " {
            e.prevent_default();
            open_picker();
        }
    });
    let ondragover = {
        let dragging = dragging.clone();
        Callback::from(move |e: DragEvent| {
            // Needed for the browser to allow a drop here.
            e.prevent_default();
            dragging.set(true);
        })
    };
    let ondragleave = {
        let dragging = dragging.clone();
        Callback::from(move |_: DragEvent| dragging.set(false))
    };
    let ondrop = {
        let dragging = dragging.clone();
        let on_file = props.on_file.clone();
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            dragging.set(false);
            let file = e
                .data_transfer()
                .and_then(|dt| dt.files())
                .and_then(|files| files.get(0));
            if let Some(file) = file {
                on_file.emit(file);
            }
        })
    };
    let onchange = {
        let on_file = props.on_file.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            if let Some(file) = input.files().and_then(|files| files.get(0)) {
                on_file.emit(file);
            }
            // Choosing the same file again must fire `change` again.
            input.set_value("");
        })
    };

    let class = classes!("drop-zone", dragging.then_some("dragging"));
    html! {
        <section class="intake">
            <div
                {class}
                role="button"
                tabindex="0"
                aria-describedby="drop-hint"
                {onclick}
                {onkeydown}
                {ondragover}
                {ondragleave}
                {ondrop}
            >
                <p class="drop-title">{ "Drop a capture here" }</p>
                <p id="drop-hint" class="drop-hint">
                    { "or press Enter to choose a .pcap or .pcapng file" }
                </p>
            </div>
            <input
                ref={input}
                type="file"
                class="visually-hidden"
                tabindex="-1"
                aria-label="Choose a capture file"
                accept=".pcap,.pcapng,.cap,.dmp,application/vnd.tcpdump.pcap"
                data-testid="file-input"
                {onchange}
            />
        </section>
    }
}
