//! The manifest loader: `www/models/manifest.json`, JSON the page fetches.
//!
//! The input is the manifest's text (invalid UTF-8 is dropped: the page's
//! `fetch().text()` would have replaced it, which this covers as well).
//! Properties of a manifest [`Manifest::from_json`] accepts:
//! - it writes back to JSON that loads to an equal manifest;
//! - every entry is found by its id (ids are unique), its representation
//!   names `4 + P` key features and fits the manifest's flow config; a
//!   deep entry's config agrees with its class list and shape;
//! - what the page does next works within bounded memory: flows of
//!   `tests/data/` cut with the manifest's flow config and encoded under
//!   each entry's representation (libFuzzer's `-malloc_limit_mb` catches a
//!   shape that would make the page allocate gigabytes).

use flowlens_core::manifest::Manifest;
use flowlens_core::{Flow, FlowConfig};

use crate::fixtures;

pub fn run(data: &[u8]) {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let m = match Manifest::from_json(json) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let again = Manifest::from_json(&m.to_json()).expect("a loaded manifest's JSON loads");
    assert_eq!(again, m, "manifest JSON round trip");

    let cfg: FlowConfig = m.flow_config();
    let flows: Vec<&Flow> = fixtures::flows().iter().take(2).collect();
    for pack in &m.packs {
        for entry in &pack.models {
            let (found_pack, found) = m.model(&entry.id).expect("every entry is found by its id");
            assert!(std::ptr::eq(found, entry) && found_pack.id == pack.id);
            let repr = &entry.representation;
            let [p, b] = repr.shape();
            assert!(p <= cfg.keep_packets && b <= cfg.keep_bytes);
            assert_eq!(repr.key_feature_names().len(), 4 + p);
            if let Some(c) = &entry.config {
                if entry.architecture.is_deep() {
                    assert_eq!(c.n_classes(), entry.classes.len());
                    assert_eq!([c.packets(), c.bytes_per_packet()], [p, b]);
                }
            }
            let x = repr.encode_batch(&flows);
            assert_eq!(x.len(), flows.len() * p * b);
            for f in &flows {
                assert_eq!(repr.key_features(f).len(), 4 + p);
            }
        }
    }
}
