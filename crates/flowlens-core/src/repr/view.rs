//! Views: which header fields the model sees, which are zeroed and which
//! are replaced by noise.

use serde::{Deserialize, Serialize};

use super::{Field, ReprError};

/// What the model is shown of a packet's bytes. Whatever the view,
/// addresses and padding are zero.
///
/// Serialised with a `kind` tag: `{"kind":"all"}`, `{"kind":"key"}`,
/// `{"kind":"custom","zero":["ipv4.ttl"],"randomise":["tcp.window"],"seed":7}`
/// (`zero`, `randomise` and `seed` may be left out). Deserialising checks
/// the field names and the rules of [`View::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "RawView", into = "RawView")]
pub enum View {
    /// Every byte but the addresses (the seed paper's input).
    #[default]
    All,
    /// Only the paper's well-known key features: ports (`tcp.sport`,
    /// `tcp.dport`, `udp.sport`, `udp.dport`), packet sizes
    /// (`ipv4.total_length`, `ipv6.payload_length`, `udp.length`) and
    /// protocol (`ipv4.protocol`, `ipv6.next_header`); every other byte is
    /// zero. The two other key features are implicit in the matrix: the
    /// direction of a packet in the order of its ports (the initiator's
    /// port comes first in forward packets, second in backward ones), the
    /// number of packets in the all-zero rows of missing packets. Inner
    /// headers (ICMP errors, tunnels) keep the same fields.
    Key,
    /// Every byte but the addresses, except that the `zero` fields are
    /// zeroed and the `randomise` fields replaced by bytes that depend only
    /// on `seed`, the flow's [`first_packet_index`](crate::Flow) and the
    /// byte's position (packet, offset): the same input gives the same
    /// bytes on every run and platform.
    Custom {
        zero: Vec<Field>,
        randomise: Vec<Field>,
        seed: u64,
    },
}

/// The fields the key view keeps.
pub const KEY_FIELDS: [Field; 9] = [
    Field::TcpSport,
    Field::TcpDport,
    Field::UdpSport,
    Field::UdpDport,
    Field::Ipv4TotalLength,
    Field::Ipv6PayloadLength,
    Field::UdpLength,
    Field::Ipv4Protocol,
    Field::Ipv6NextHeader,
];

/// What happens to a field's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The captured bytes, unchanged.
    Keep,
    /// Zeroed.
    Zero,
    /// Deterministic noise (see [`View::Custom`]).
    Randomise,
}

impl View {
    /// A custom view that zeroes every site-dependent field
    /// ([`super::FieldGroup::is_site_dependent`]).
    pub fn zero_site_dependent() -> View {
        View::Custom {
            zero: Field::ALL
                .iter()
                .copied()
                .filter(|f| f.group().is_site_dependent())
                .collect(),
            randomise: Vec::new(),
            seed: 0,
        }
    }

    /// Short name: `all`, `key` or `custom`.
    pub fn kind(&self) -> &'static str {
        match self {
            View::All => "all",
            View::Key => "key",
            View::Custom { .. } => "custom",
        }
    }

    /// A field may not be both zeroed and randomised, and addresses and
    /// padding (always zero) may not be randomised. Zeroing them is allowed
    /// and changes nothing.
    pub fn validate(&self) -> Result<(), ReprError> {
        if let View::Custom {
            zero, randomise, ..
        } = self
        {
            for &field in randomise {
                if field.is_always_zero() {
                    return Err(ReprError::CannotRandomise { field });
                }
                if zero.contains(&field) {
                    return Err(ReprError::ConflictingActions { field });
                }
            }
        }
        Ok(())
    }

    /// What this view does to `field`.
    pub fn action(&self, field: Field) -> Action {
        if field.is_always_zero() {
            return Action::Zero;
        }
        match self {
            View::All => Action::Keep,
            View::Key if KEY_FIELDS.contains(&field) => Action::Keep,
            View::Key => Action::Zero,
            View::Custom {
                zero, randomise, ..
            } => {
                if randomise.contains(&field) {
                    Action::Randomise
                } else if zero.contains(&field) {
                    Action::Zero
                } else {
                    Action::Keep
                }
            }
        }
    }

    /// Whether the view hides `field` from the model (zeroed or noise).
    pub fn hides(&self, field: Field) -> bool {
        self.action(field) != Action::Keep
    }
}

/// A view turned into a lookup table for the encoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub actions: [Action; Field::COUNT],
    /// Whether the encoder must dissect TCP/UDP headers (some field beyond
    /// the addresses and padding is not kept).
    pub detail: bool,
    pub seed: u64,
}

impl Plan {
    pub fn new(view: &View) -> Plan {
        let mut actions = [Action::Keep; Field::COUNT];
        for &f in Field::ALL {
            actions[f.index()] = view.action(f);
        }
        let detail = Field::ALL
            .iter()
            .any(|f| !f.is_always_zero() && actions[f.index()] != Action::Keep);
        let seed = match view {
            View::Custom { seed, .. } => *seed,
            _ => 0,
        };
        Plan {
            actions,
            detail,
            seed,
        }
    }

    #[inline]
    pub fn action(&self, f: Field) -> Action {
        self.actions[f.index()]
    }
}

/// The serialised form: field names as strings, so that an unknown name is
/// a typed error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawView {
    All,
    Key,
    Custom {
        #[serde(default)]
        zero: Vec<String>,
        #[serde(default)]
        randomise: Vec<String>,
        #[serde(default)]
        seed: u64,
    },
}

impl TryFrom<RawView> for View {
    type Error = ReprError;
    fn try_from(raw: RawView) -> Result<View, ReprError> {
        let parse = |names: Vec<String>| -> Result<Vec<Field>, ReprError> {
            names.iter().map(|n| n.parse()).collect()
        };
        let view = match raw {
            RawView::All => View::All,
            RawView::Key => View::Key,
            RawView::Custom {
                zero,
                randomise,
                seed,
            } => View::Custom {
                zero: parse(zero)?,
                randomise: parse(randomise)?,
                seed,
            },
        };
        view.validate()?;
        Ok(view)
    }
}

impl From<View> for RawView {
    fn from(v: View) -> RawView {
        let names = |fs: Vec<Field>| fs.iter().map(|f| f.name().to_string()).collect();
        match v {
            View::All => RawView::All,
            View::Key => RawView::Key,
            View::Custom {
                zero,
                randomise,
                seed,
            } => RawView::Custom {
                zero: names(zero),
                randomise: names(randomise),
                seed,
            },
        }
    }
}
